"""A lead's page, its edit form and the CSV export, for every role."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from consent.models import ConsentMethod
from consent.services import ConsentGiven, record_consents
from leads.models import Lead, OwnerChange, Stage
from leads.services.export import CSV_COLUMNS, neutralise_formula
from leads.services.profile import update_lead_profile
from leads.tests.factories import EventFactory, LeadFactory
from outbox.models import OutboxMessage
from scoring.services import transition

EXPORT = reverse("leads:export")


def _detail(lead: Lead) -> str:
    return reverse("leads:detail", args=[lead.pk])


def _edit(lead: Lead) -> str:
    return reverse("leads:edit", args=[lead.pk])


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- The lead's page --------------------------------------------------------------------------

# What each role may do on a lead's page: (edit, export, assign).
ACTIONS = {
    "marketer": (True, True, False),
    "sales_rep": (True, False, False),
    "other_rep": (True, False, False),
    "sales_manager": (True, True, True),
    "admin_user": (True, True, True),
}


@pytest.mark.django_db
@pytest.mark.parametrize("persona", list(ACTIONS))
def test_each_role_sees_the_lead_with_only_the_actions_it_may_take(client, request, persona):
    lead = LeadFactory(first_name="Femke", last_name="Bakker", company="Kroon B.V.")
    client.force_login(request.getfixturevalue(persona))

    response = client.get(_detail(lead))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Femke Bakker" in html and "Kroon B.V." in html
    may_edit, may_export, may_assign = ACTIONS[persona]
    assert (_edit(lead) in html) is may_edit
    assert (f'action="{EXPORT}"' in html) is may_export
    assert (f'action="{reverse("leads:assign")}"' in html) is may_assign


@pytest.mark.django_db
def test_a_user_without_a_role_may_not_see_a_lead(client, no_role_user):
    client.force_login(no_role_user)

    assert client.get(_detail(LeadFactory())).status_code == 403


@pytest.mark.django_db
def test_an_unknown_lead_is_not_found(client, marketer):
    client.force_login(marketer)

    assert client.get(reverse("leads:detail", args=[999_999])).status_code == 404


@pytest.mark.django_db
def test_the_lead_page_shows_owner_stage_and_score_with_its_parts(client, marketer, sales_rep):
    lead = LeadFactory(
        owner=sales_rep, stage=Stage.MQL, score=64, fit_score=40, engagement_score=24
    )
    client.force_login(marketer)

    html = client.get(_detail(lead)).content.decode()

    assert "Marketing qualified" in html
    assert sales_rep.get_full_name() in html
    assert ">64<" in html and ">40<" in html and ">24<" in html
    assert "Not scored yet" in html


@pytest.mark.django_db
def test_a_merged_lead_sends_the_visitor_to_the_lead_it_was_merged_into(client, marketer):
    survivor = LeadFactory()
    middle = LeadFactory(merged_into=survivor)
    oldest = LeadFactory(email="old@example.nl", merged_into=middle)
    client.force_login(marketer)

    response = client.get(_detail(oldest))

    assert response.status_code == 302
    assert response.url == _detail(survivor)
    assert _messages(response) == [
        "old@example.nl was merged into this lead; this is the lead to work with."
    ]


@pytest.mark.django_db
def test_the_timeline_shows_the_newest_events_first_and_pages_to_older_ones(client, marketer):
    lead = LeadFactory()
    now = timezone.now()
    events = [
        EventFactory(lead=lead, occurred_at=now - timedelta(minutes=index % 5))
        for index in range(23)
    ]
    newest_first = sorted(events, key=lambda event: (event.occurred_at, event.pk), reverse=True)
    client.force_login(marketer)

    first = client.get(_detail(lead))
    older = client.get(first.context["older_url"])

    assert first.context["timeline"].events == newest_first[:20]
    assert older.context["timeline"].events == newest_first[20:]
    assert older.context["older_url"] is None
    assert "Back to the newest events" in older.content.decode()


@pytest.mark.django_db
def test_older_events_come_as_a_partial_for_htmx(client, marketer):
    lead = LeadFactory()
    EventFactory.create_batch(21, lead=lead)
    client.force_login(marketer)
    older_url = client.get(_detail(lead)).context["older_url"]

    response = client.get(older_url, headers={"HX-Request": "true", "HX-Target": "timeline-older"})

    html = response.content.decode()
    assert html.count('class="timeline-item"') == 1
    assert "<html" not in html and "Owner history" not in html


@pytest.mark.django_db
def test_a_mangled_timeline_cursor_shows_the_newest_events(client, marketer):
    lead = LeadFactory()
    event = EventFactory(lead=lead)
    client.force_login(marketer)

    for before in ["yesterday", "99999999999999999-1", "1-99999999999999999999"]:
        response = client.get(_detail(lead), {"before": before})

        assert response.context["timeline"].events == [event]


@pytest.mark.django_db
def test_the_lead_page_lists_who_gave_the_lead_to_whom(client, marketer, sales_rep, sales_manager):
    lead = LeadFactory(owner=sales_rep)
    OwnerChange.objects.create(
        lead=lead, from_owner=None, to_owner=sales_rep, actor=sales_manager, reason="Regio Noord"
    )
    client.force_login(marketer)

    html = client.get(_detail(lead)).content.decode()

    assert "Regio Noord" in html and "maud" in html and "bob" in html


@pytest.mark.django_db
def test_the_lead_page_shows_consent_per_purpose_with_the_history_folded_away(
    client, marketer, sales_rep
):
    lead = LeadFactory()
    record_consents(
        subject_id=lead.pk,
        given=[ConsentGiven("marketing_email", True)],
        method=ConsentMethod.VERBAL,
        source="entered by bob",
        recorded_by=sales_rep,
    )
    record_consents(
        subject_id=lead.pk,
        given=[ConsentGiven("marketing_email", False)],
        method=ConsentMethod.PREFERENCE_PAGE,
    )
    client.force_login(marketer)

    html = client.get(_detail(lead)).content.decode()

    assert "Newsletter and offers by e-mail" in html
    assert "Withdrawn" in html and "Never asked" in html
    history = html.split('<details class="consent-history">', 1)[1].split("</details>")[0]
    assert "Consent history (2 records)" in history
    assert history.index("Preference page") < history.index("Verbal, recorded by a user")
    assert "entered by bob" in history and "recorded by bob" in history


@pytest.mark.django_db
def test_the_lead_page_shows_the_stage_history_newest_first(client, sales_rep, marketer):
    lead = LeadFactory(stage=Stage.LEAD, score=20)
    transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=marketer)
    transition(lead_id=lead.pk, to_stage=Stage.NURTURE, actor=marketer, reason="Budget in 2027")
    client.force_login(sales_rep)

    html = client.get(_detail(lead)).content.decode()

    history = html.split('aria-labelledby="stage-history-title"', 1)[1].split("</section>")[0]
    assert "Stage history" in history
    assert "Budget in 2027" in history
    # Newest first: MQL -> Nurture, then Lead -> MQL.
    assert history.index("Budget in 2027") < history.index("<td>Lead</td>")


@pytest.mark.django_db
def test_the_lead_page_runs_a_fixed_number_of_queries(
    client, marketer, django_assert_max_num_queries
):
    lead = LeadFactory()
    EventFactory.create_batch(5, lead=lead)
    transition(lead_id=lead.pk, to_stage=Stage.MQL, actor=marketer)
    transition(lead_id=lead.pk, to_stage=Stage.NURTURE, actor=marketer, reason="Not yet")
    for granted in [True, False, True]:
        record_consents(
            subject_id=lead.pk,
            given=[ConsentGiven("marketing_email", granted), ConsentGiven("contact", True)],
            method=ConsentMethod.API,
        )
    client.force_login(marketer)
    client.get(_detail(lead))

    with django_assert_max_num_queries(16):
        assert client.get(_detail(lead)).status_code == 200


@pytest.mark.django_db
def test_an_event_url_that_is_not_a_web_address_is_shown_but_not_linked(client, marketer):
    lead = LeadFactory()
    EventFactory(lead=lead, url="javascript:alert(1)")
    client.force_login(marketer)

    html = client.get(_detail(lead)).content.decode()

    assert 'href="javascript:' not in html
    assert "javascript:alert(1)" in html


# --- Editing the profile --------------------------------------------------------------------

PROFILE = {
    "email": "femke@kroon.nl",
    "first_name": "Femke",
    "last_name": "Bakker",
    "phone": "",
    "company": "Kroon B.V.",
    "job_title": "Inkoper",
    "seniority": "",
    "company_size": "",
    "industry": "",
    "country": "NL",
    "budget": "",
    "need": "",
    "timeframe": "",
}


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "admin_user"])
def test_every_role_corrects_a_profile_which_is_normalised_and_rescored(client, request, persona):
    lead = LeadFactory(email="femke@kroon.nl", country="NL", phone="")
    before = lead.updated_at
    client.force_login(request.getfixturevalue(persona))

    response = client.post(
        _edit(lead),
        PROFILE
        | {"email": " Femke.Bakker@Kroon.NL ", "phone": "06 1234 5678", "seniority": "director"},
    )

    assert response.status_code == 302
    assert response.url == _detail(lead)
    lead.refresh_from_db()
    assert lead.email == "femke.bakker@kroon.nl"
    assert lead.phone == "+31612345678"
    assert lead.is_decision_maker
    assert lead.updated_at > before
    assert OutboxMessage.objects.filter(dedupe_key=f"rescore:{lead.pk}").exists()


@pytest.mark.django_db
def test_a_phone_number_without_country_code_is_read_in_the_leads_country(client, marketer):
    lead = LeadFactory(email="lien@brabo.be", country="BE")
    client.force_login(marketer)

    client.post(
        _edit(lead), PROFILE | {"email": lead.email, "country": "BE", "phone": "0470 12 34 56"}
    )

    lead.refresh_from_db()
    assert lead.phone == "+32470123456"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"phone": "call me maybe"}, "phone"),
        ({"country": "XX"}, "country"),
        ({"country": "Netherlands"}, "country"),
        ({"email": "not-an-address"}, "email"),
        ({"email": ""}, "email"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"need": "x" * 5001}, "need"),
        ({"company_size": "-3"}, "company_size"),
        ({"company_size": "99999999999"}, "company_size"),
        ({"budget": "99999999999999"}, "budget"),
        ({"seniority": "emperor"}, "seniority"),
    ],
)
def test_bad_input_is_a_form_error_and_nothing_is_saved(client, marketer, changes, field):
    lead = LeadFactory(email="femke@kroon.nl", first_name="Femke", phone="+31612345678")
    saved = Lead.objects.filter(pk=lead.pk).values().get()
    client.force_login(marketer)

    response = client.post(_edit(lead), PROFILE | {"first_name": "Changed"} | changes)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Lead.objects.filter(pk=lead.pk).values().get() == saved
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_an_email_address_another_active_lead_has_is_a_form_error(client, marketer):
    LeadFactory(email="taken@kroon.nl")
    lead = LeadFactory(email="femke@kroon.nl")
    client.force_login(marketer)

    response = client.post(_edit(lead), PROFILE | {"email": "TAKEN@kroon.nl"})

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "Another lead has this e-mail address; merge the two instead."
    ]
    lead.refresh_from_db()
    assert lead.email == "femke@kroon.nl"


@pytest.mark.django_db
def test_the_address_of_a_merged_away_lead_may_be_taken(client, marketer):
    survivor = LeadFactory(email="femke@kroon.nl")
    LeadFactory(email="f.bakker@gmail.com", merged_into=survivor)
    client.force_login(marketer)

    response = client.post(_edit(survivor), PROFILE | {"email": "f.bakker@gmail.com"})

    assert response.status_code == 302
    survivor.refresh_from_db()
    assert survivor.email == "f.bakker@gmail.com"


@pytest.mark.django_db
def test_posting_stage_score_owner_or_merged_into_changes_none_of_them(client, marketer, sales_rep):
    other = LeadFactory()
    lead = LeadFactory(email="femke@kroon.nl", stage=Stage.LEAD, score=10, owner=None)
    client.force_login(marketer)

    response = client.post(
        _edit(lead),
        PROFILE
        | {
            "stage": Stage.WON,
            "score": "999",
            "fit_score": "999",
            "engagement_score": "999",
            "owner": str(sales_rep.pk),
            "merged_into": str(other.pk),
            "source": "giveaway",
            "created_at": "2000-01-01T00:00:00Z",
        },
    )

    assert response.status_code == 302
    lead.refresh_from_db()
    assert (lead.stage, lead.score, lead.fit_score, lead.engagement_score) == (
        Stage.LEAD,
        10,
        0,
        0,
    )
    assert lead.owner is None and lead.merged_into is None
    assert lead.source == "web_form"
    assert not OwnerChange.objects.exists()


@pytest.mark.django_db
def test_the_edit_form_has_labelled_profile_fields_only(client, marketer):
    lead = LeadFactory()
    client.force_login(marketer)

    form = client.get(_edit(lead)).context["form"]

    assert set(form.fields) == set(PROFILE)
    html = client.get(_edit(lead)).content.decode()
    assert re.search(r'<label\s+for="id_phone"', html)
    assert 'name="stage"' not in html and 'name="owner"' not in html


@pytest.mark.django_db
def test_the_profile_service_refuses_fields_that_are_not_profile_fields(marketer):
    lead = LeadFactory(stage=Stage.LEAD)

    with pytest.raises(ValueError, match="stage"):
        update_lead_profile(lead=lead, actor=marketer, changes={"stage": Stage.WON})

    lead.refresh_from_db()
    assert lead.stage == Stage.LEAD


@pytest.mark.django_db
def test_saving_an_unchanged_profile_writes_nothing(client, marketer):
    stored = PROFILE | {"phone": "+31612345678", "company_size": None, "budget": None}
    lead = LeadFactory(**stored)
    before = Lead.objects.get(pk=lead.pk).updated_at
    client.force_login(marketer)

    response = client.post(_edit(lead), PROFILE | {"phone": "+31612345678"})

    assert response.status_code == 302
    assert Lead.objects.get(pk=lead.pk).updated_at == before
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_user_without_a_role_may_not_edit_and_nothing_changes(client, no_role_user):
    lead = LeadFactory(email="femke@kroon.nl", first_name="Femke")
    client.force_login(no_role_user)

    response = client.post(_edit(lead), PROFILE | {"first_name": "Changed"})

    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.first_name == "Femke"


@pytest.mark.django_db
def test_a_merged_away_lead_cannot_be_edited(client, marketer):
    merged = LeadFactory(merged_into=LeadFactory())
    client.force_login(marketer)

    assert client.get(_edit(merged)).status_code == 404


# --- Exporting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        (
            '=HYPERLINK("https://evil.example","klik")',
            '\'=HYPERLINK("https://evil.example","klik")',
        ),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Kroon B.V.", "Kroon B.V."),
        ("a=b", "a=b"),
        ("", ""),
        # Plain numbers cannot run anything and stay as they are, phone numbers included.
        ("+31612345678", "+31612345678"),
        ("-20", "-20"),
    ],
)
def test_cells_that_could_start_a_formula_get_a_leading_quote(text, safe):
    assert neutralise_formula(text) == safe


def _csv(response) -> list[dict]:
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(content[1:])))


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["marketer", "sales_manager", "admin_user"])
def test_exporting_ticked_leads_gives_a_csv_with_the_api_field_names(
    client, request, persona, sales_rep
):
    wanted = LeadFactory(
        email="femke@kroon.nl",
        company='=HYPERLINK("https://evil.example")',
        phone="+31612345678",
        owner=sales_rep,
        stage=Stage.MQL,
        score=42,
    )
    LeadFactory(email="not-ticked@kroon.nl")
    client.force_login(request.getfixturevalue(persona))

    response = client.post(EXPORT, {"scope": "selected", "lead": [wanted.pk]})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="leads-')
    rows = _csv(response)
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1
    row = rows[0]
    assert row["email"] == "femke@kroon.nl"
    assert row["company"] == '\'=HYPERLINK("https://evil.example")'
    assert row["phone"] == "+31612345678"
    assert (row["stage"], row["score"], row["owner"], row["country"]) == ("mql", "42", "bob", "NL")


@pytest.mark.django_db
def test_exporting_the_current_filter_exports_every_matching_lead_in_list_order(client, marketer):
    low = LeadFactory(stage=Stage.MQL, score=10)
    high = LeadFactory(stage=Stage.MQL, score=90)
    LeadFactory(stage=Stage.CONTACT, score=50)
    LeadFactory(stage=Stage.MQL, score=99, merged_into=high)
    client.force_login(marketer)

    response = client.post(EXPORT, {"scope": "filter", "query": "stage=mql&cursor=whatever"})

    assert [row["email"] for row in _csv(response)] == [high.email, low.email]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["sales_rep", "other_rep", "no_role_user"])
def test_roles_without_export_permission_get_403(client, request, persona):
    lead = LeadFactory()
    client.force_login(request.getfixturevalue(persona))

    response = client.post(EXPORT, {"scope": "selected", "lead": [lead.pk]})

    assert response.status_code == 403


@pytest.mark.django_db
def test_exporting_nothing_ticked_says_so(client, marketer):
    client.force_login(marketer)

    response = client.post(EXPORT, {"scope": "selected", "next": "/leads/?stage=mql"})

    assert response.status_code == 302
    assert response.url == "/leads/?stage=mql"
    assert _messages(response) == ["Select at least one lead."]


@pytest.mark.django_db
def test_an_export_request_without_a_scope_is_refused_kindly(client, marketer):
    client.force_login(marketer)

    response = client.post(EXPORT, {"scope": "everything"})

    assert response.status_code == 302
    assert len(_messages(response)) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "stored"), [("25.000,00", Decimal("25000.00")), ("-500", None), ("veel", None)]
)
def test_the_edit_form_reads_amounts_as_capture_does(client, marketer, typed, stored):
    lead = LeadFactory(**(PROFILE | {"company_size": None, "budget": None}))
    client.force_login(marketer)

    response = client.post(_edit(lead), PROFILE | {"budget": typed})

    lead.refresh_from_db()
    assert lead.budget == stored
    assert response.status_code == (302 if stored is not None else 200)


@pytest.mark.django_db
def test_the_profile_service_refuses_a_lead_merged_meanwhile(marketer):
    from leads.services.merge import merge_leads
    from leads.services.profile import LeadMerged

    survivor, duplicate = LeadFactory(), LeadFactory(job_title="Inkoper")
    merge_leads(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=marketer)

    with pytest.raises(LeadMerged):
        update_lead_profile(lead=duplicate, actor=marketer, changes={"job_title": "CEO"})

    duplicate.refresh_from_db()
    assert duplicate.job_title == "Inkoper"


@pytest.mark.django_db
def test_an_address_of_a_lead_merged_into_another_cannot_be_taken_by_a_third(client, marketer):
    from leads.services.merge import merge_leads

    survivor = LeadFactory(email="s@kroon.nl")
    merge_leads(
        survivor_id=survivor.pk,
        duplicate_id=LeadFactory(email="oud@kroon.nl").pk,
        actor=marketer,
    )
    third = LeadFactory(**(PROFILE | {"company_size": None, "budget": None}))
    client.force_login(marketer)

    refused = client.post(_edit(third), PROFILE | {"email": "oud@kroon.nl"})
    allowed = client.post(_edit(survivor), PROFILE | {"email": "oud@kroon.nl"})

    assert refused.status_code == 200 and "email" in refused.context["form"].errors
    assert allowed.status_code == 302
    survivor.refresh_from_db()
    assert survivor.email == "oud@kroon.nl"


# --- Campaign export: only leads with marketing consent, and the user is told why ---------


def _grant(lead, key: str, granted: bool = True) -> None:
    record_consents(
        subject_id=lead.pk, given=[ConsentGiven(key, granted)], method=ConsentMethod.MANUAL
    )


def test_a_campaign_export_first_says_who_is_left_out_and_why(client, marketer):
    consented, withdrawn, never = LeadFactory.create_batch(3)
    _grant(consented, "marketing_email")
    _grant(withdrawn, "marketing_email")
    _grant(withdrawn, "marketing_email", granted=False)
    _grant(never, "contact")
    client.force_login(marketer)

    page = client.post(
        reverse("leads:export"), {"scope": "filter", "query": "", "for_campaign": "on"}
    )

    assert page.status_code == 200
    text = page.content.decode()
    assert "1 of 3 leads has marketing consent" in text
    assert "2 leads are left out" in text


def test_a_campaign_file_holds_only_consented_leads_with_their_withdrawal_links(client, marketer):
    from leads.services.export import CAMPAIGN_COLUMNS

    consented, withdrawn = LeadFactory.create_batch(2)
    _grant(consented, "marketing_email")
    _grant(withdrawn, "marketing_email")
    _grant(withdrawn, "marketing_email", granted=False)
    client.force_login(marketer)

    response = client.post(
        reverse("leads:export"),
        {"scope": "filter", "query": "", "for_campaign": "on", "confirmed": "on"},
    )

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == CAMPAIGN_COLUMNS
    assert [row[0] for row in rows[1:]] == [consented.email]
    withdraw_url = rows[1][CAMPAIGN_COLUMNS.index("withdraw_url")]
    assert withdraw_url.startswith("http") and "/c/withdraw/" in withdraw_url


def test_a_withdrawal_takes_a_lead_out_of_the_very_next_campaign_file(client, marketer):
    lead = LeadFactory()
    _grant(lead, "marketing_email")
    client.force_login(marketer)
    body = {"scope": "filter", "query": "", "for_campaign": "on", "confirmed": "on"}

    before = b"".join(client.post(reverse("leads:export"), body).streaming_content)
    _grant(lead, "marketing_email", granted=False)
    after = b"".join(client.post(reverse("leads:export"), body).streaming_content)

    assert lead.email.encode() in before
    assert lead.email.encode() not in after


def test_a_sales_rep_cannot_export_for_a_campaign(client, sales_rep):
    client.force_login(sales_rep)
    response = client.post(
        reverse("leads:export"), {"scope": "filter", "query": "", "for_campaign": "on"}
    )
    assert response.status_code == 403
