"""The lead list: filters, search, sort orders and keyset pages."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent.models import ConsentMethod, ConsentRecord
from consent.services import ConsentGiven, record_consents, rewriting_consent_records
from leads.filters import (
    PAGE_SIZE,
    SORT_ORDERS,
    Cursor,
    InvalidCursor,
    LeadFilter,
    keyset_page,
)
from leads.models import Lead, Source, Stage
from leads.tests.factories import LeadFactory, lead_at

pytestmark = pytest.mark.django_db

LIST = reverse("leads:list")


def _shown(response) -> list[str]:
    return [lead.email for lead in response.context["page"].leads]


def _list(client, user, query: str = "", **headers):
    client.force_login(user)
    response = client.get(f"{LIST}?{query}" if query else LIST, headers=headers)
    assert response.status_code == 200
    return response


def _every_page(queryset, order_key: str, *, size: int, stages=None) -> list[Lead]:
    """Walk forward through all pages, as someone clicking "Next" would."""
    order = SORT_ORDERS[order_key]
    seen: list[Lead] = []
    page = keyset_page(queryset, order=order, size=size, stages=stages)
    seen += page.leads
    while page.next_cursor is not None:
        page = keyset_page(queryset, order=order, cursor=page.next_cursor, size=size, stages=stages)
        seen += page.leads
    return seen


# --- What the list shows --------------------------------------------------------------------


def test_the_list_shows_active_leads_highest_score_first(client, marketer):
    low = LeadFactory(email="low@example.nl", score=10)
    high = LeadFactory(email="high@example.nl", score=90)
    LeadFactory(email="merged@example.nl", score=99, merged_into=high)

    response = _list(client, marketer)

    assert _shown(response) == [high.email, low.email]
    assert "high@example.nl" in response.content.decode()


def test_a_user_without_a_role_may_not_see_the_list(client, no_role_user):
    client.force_login(no_role_user)

    assert client.get(LIST).status_code == 403


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "admin_user"])
def test_every_role_finds_the_leads_page_in_the_navigation(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert f'href="{LIST}"' in client.get(reverse("home")).content.decode()


def test_the_navigation_hides_the_leads_page_from_a_user_without_a_role(client, no_role_user):
    client.force_login(no_role_user)

    assert f'href="{LIST}"' not in client.get(reverse("home")).content.decode()


def test_the_list_offers_bulk_actions_only_to_roles_that_may_use_them(
    client, marketer, sales_rep, sales_manager
):
    LeadFactory()
    assign, export = reverse("leads:assign"), reverse("leads:export")

    as_marketer = _list(client, marketer).content.decode()
    as_rep = _list(client, sales_rep).content.decode()
    as_manager = _list(client, sales_manager).content.decode()

    assert export in as_marketer and assign not in as_marketer
    assert export not in as_rep and assign not in as_rep
    assert export in as_manager and assign in as_manager


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "admin_user"])
def test_every_role_that_works_leads_may_add_ticked_leads_to_nurture(client, request, persona):
    lead = LeadFactory()

    html = _list(client, request.getfixturevalue(persona)).content.decode()

    assert f'formaction="{reverse("scoring:nurture")}"' in html
    assert 'name="nurture_reason"' in html and '<label for="nurture-nurture_reason"' in html
    assert f'name="lead" value="{lead.pk}"' in html


def test_enter_in_a_text_box_of_the_bulk_actions_picks_no_action(client, sales_manager):
    LeadFactory()

    html = _list(client, sales_manager).content.decode()

    # The first submit button of a form is the one Enter presses: it must be a disabled one.
    bulk_form = html.split('id="bulk-form"', 1)[1]
    first_button = bulk_form[bulk_form.index("<button") :].split(">", 1)[0]
    assert "disabled" in first_button and 'type="submit"' in first_button
    # Without a `required` box the assign and export buttons work with the reason left empty.
    assert "required" not in bulk_form.split("</fieldset>")[0]


# --- Filters --------------------------------------------------------------------------------


def test_marketer_filters_on_several_stages_at_once(client, marketer):
    mql = LeadFactory(stage=Stage.MQL, score=50)
    sql = LeadFactory(stage=Stage.SQL, score=60)
    LeadFactory(stage=Stage.CONTACT, score=70)

    response = _list(client, marketer, "stage=mql&stage=sql")

    assert _shown(response) == [sql.email, mql.email]


def test_the_score_range_includes_both_ends(client, marketer):
    for score in (19, 20, 50, 80, 81):
        LeadFactory(email=f"score{score}@example.nl", score=score)

    response = _list(client, marketer, "score_min=20&score_max=80")

    assert _shown(response) == ["score80@example.nl", "score50@example.nl", "score20@example.nl"]


def test_source_and_campaign_filters_combine(client, marketer):
    wanted = LeadFactory(source=Source.EVENT, campaign="Vakbeurs 2026")
    LeadFactory(source=Source.EVENT, campaign="Webinar")
    LeadFactory(source=Source.API, campaign="Vakbeurs 2026")

    response = _list(client, marketer, "source=event&campaign=Vakbeurs+2026")

    assert _shown(response) == [wanted.email]


def test_owner_filter_finds_one_reps_leads_or_the_unassigned_ones(client, marketer, sales_rep):
    bobs = LeadFactory(owner=sales_rep)
    nobodys = LeadFactory(owner=None)

    assert _shown(_list(client, marketer, f"owner={sales_rep.pk}")) == [bobs.email]
    assert _shown(_list(client, marketer, "owner=none")) == [nobodys.email]


def test_created_range_counts_whole_days_in_local_time(client, marketer):
    local = timezone.get_current_timezone()
    before = lead_at(email="before@x.nl", created_at=datetime(2026, 3, 31, 23, 59, tzinfo=local))
    first = lead_at(email="first@x.nl", created_at=datetime(2026, 4, 1, 0, 0, tzinfo=local))
    last = lead_at(email="last@x.nl", created_at=datetime(2026, 4, 30, 23, 59, tzinfo=local))
    after = lead_at(email="after@x.nl", created_at=datetime(2026, 5, 1, 0, 0, tzinfo=local))

    response = _list(client, marketer, "created_from=2026-04-01&created_to=2026-04-30&sort=created")

    assert _shown(response) == [last.email, first.email]
    assert before.email not in _shown(response) and after.email not in _shown(response)


def test_filter_values_that_make_no_sense_give_form_errors_not_a_server_error(client, marketer):
    LeadFactory()

    response = _list(
        client,
        marketer,
        "score_min=lots&created_from=yesterday&owner=99999&stage=hot&sort=random&q=" + "x" * 300,
    )

    errors = response.context["filter"].form.errors
    assert set(errors) == {"score_min", "created_from", "owner", "stage", "sort", "q"}
    assert "Enter a number." in response.content.decode()


# --- Search ---------------------------------------------------------------------------------


def _consent(lead: Lead, key: str, granted: bool) -> None:
    record_consents(
        subject_id=lead.pk, given=[ConsentGiven(key, granted)], method=ConsentMethod.WEB_FORM
    )


def test_consent_filter_finds_leads_whose_latest_marketing_choice_is_a_grant(client, marketer):
    granted = LeadFactory(email="granted@example.nl", score=60)
    _consent(granted, "marketing_email", True)
    regranted = LeadFactory(email="regranted@example.nl", score=50)
    _consent(regranted, "marketing_email", False)
    _consent(regranted, "marketing_email", True)
    by_phone = LeadFactory(email="phone@example.nl", score=40)
    _consent(by_phone, "phone_contact", True)
    withdrawn = LeadFactory(email="withdrawn@example.nl", score=30)
    _consent(withdrawn, "marketing_email", True)
    _consent(withdrawn, "marketing_email", False)
    contact_only = LeadFactory(email="contact@example.nl", score=20)
    _consent(contact_only, "contact", True)
    LeadFactory(email="never@example.nl", score=10)

    has = _list(client, marketer, "consent=marketing")
    lacks = _list(client, marketer, "consent=no_marketing")

    assert _shown(has) == ["granted@example.nl", "regranted@example.nl", "phone@example.nl"]
    assert _shown(lacks) == ["withdrawn@example.nl", "contact@example.nl", "never@example.nl"]


def test_one_marketing_purpose_withdrawn_while_another_is_granted_counts_as_consent(
    client, marketer
):
    lead = LeadFactory()
    _consent(lead, "marketing_email", False)
    _consent(lead, "phone_contact", True)

    assert _shown(_list(client, marketer, "consent=marketing")) == [lead.email]


def test_records_written_at_the_same_moment_count_in_the_order_they_were_written(client, marketer):
    # Capture writes a batch in one statement: its records share one `recorded_at`.
    lead = LeadFactory()
    record_consents(
        subject_id=lead.pk,
        given=[ConsentGiven("marketing_email", True), ConsentGiven("marketing_email", False)],
        method=ConsentMethod.IMPORT,
    )
    moment = timezone.now()
    with rewriting_consent_records():
        ConsentRecord.objects.update(recorded_at=moment)

    assert _shown(_list(client, marketer, "consent=marketing")) == []
    assert _shown(_list(client, marketer, "consent=no_marketing")) == [lead.email]


def test_consent_filter_combines_with_the_others_and_stays_in_the_links(client, marketer):
    leads = Lead.objects.bulk_create(
        Lead(email=f"mql{index}@example.nl", stage=Stage.MQL, score=index)
        for index in range(PAGE_SIZE + 2)
    )
    for lead in leads:
        _consent(lead, "marketing_email", True)
    other_stage = LeadFactory(stage=Stage.SQL)
    _consent(other_stage, "marketing_email", True)
    LeadFactory(stage=Stage.MQL)

    first = _list(client, marketer, "stage=mql&consent=marketing")
    second = client.get(first.context["next_url"])

    assert "consent=marketing" in first.context["next_url"]
    assert len(_shown(first)) == PAGE_SIZE and len(_shown(second)) == 2
    html = first.content.decode()
    assert '<option value="marketing" selected>Has marketing consent</option>' in html


def test_consent_filter_is_put_in_the_address_bar_by_htmx(client, marketer):
    response = _list(
        client, marketer, "consent=no_marketing&q=", HX_Request="true", HX_Target="lead-results"
    )

    assert response["HX-Push-Url"] == f"{LIST}?consent=no_marketing"


def test_consent_filter_reads_no_more_than_a_page_and_counts_nothing(client, marketer):
    LeadFactory.create_batch(3)
    client.force_login(marketer)
    client.get(LIST)

    with CaptureQueriesContext(connection) as queries:
        client.get(f"{LIST}?consent=marketing&stage=lead&stage=mql")

    statements = " ".join(query["sql"].upper() for query in queries.captured_queries)
    assert "COUNT(" not in statements and "OFFSET" not in statements
    assert "EXISTS" in statements


def test_an_unknown_consent_status_is_a_form_error_not_a_server_error(client, marketer):
    lead = LeadFactory()

    response = _list(client, marketer, "consent=everyone")

    assert "consent" in response.context["filter"].form.errors
    assert _shown(response) == [lead.email]


def test_search_finds_leads_by_the_start_of_name_email_or_company(client, marketer):
    sanne = LeadFactory(first_name="Sanne", last_name="Visser", company="Kroon", email="a@a.nl")
    bakker = LeadFactory(first_name="Piet", last_name="Bakker", company="Zon", email="b@b.nl")
    kroon = LeadFactory(first_name="Els", last_name="Smit", company="Kroonluchter", email="c@c.nl")
    mail = LeadFactory(first_name="Jan", last_name="Jansen", company="Maan", email="sanne@d.nl")

    assert set(_shown(_list(client, marketer, "q=sAnNe"))) == {sanne.email, mail.email}
    assert _shown(_list(client, marketer, "q=bakk")) == [bakker.email]
    assert set(_shown(_list(client, marketer, "q=kroon"))) == {sanne.email, kroon.email}
    # Prefixes only: the middle of a word is not searched.
    assert _shown(_list(client, marketer, "q=akker")) == []


def test_search_for_a_first_and_last_name_together(client, marketer):
    wanted = LeadFactory(first_name="Sanne", last_name="de Vries")
    LeadFactory(first_name="Sanne", last_name="Bakker")
    LeadFactory(first_name="Daan", last_name="de Vries")

    assert _shown(_list(client, marketer, "q=sanne+de+v")) == [wanted.email]


def test_search_with_an_at_sign_looks_at_email_addresses_only(client, marketer):
    wanted = LeadFactory(email="info@kroon.nl", company="Other")
    LeadFactory(email="sales@kroon.nl", company="info@kroon.nl")

    assert _shown(_list(client, marketer, "q=INFO%40kroon")) == [wanted.email]


def test_search_takes_percent_and_underscore_literally(client, marketer):
    wanted = LeadFactory(company="100% Groen")
    LeadFactory(company="1000 Bloemen")

    assert _shown(_list(client, marketer, "q=100%25")) == [wanted.email]
    assert _shown(_list(client, marketer, "q=10_")) == []


# --- Sort orders and pages ------------------------------------------------------------------


def test_sort_by_created_shows_the_newest_first(client, marketer):
    now = timezone.now()
    old = lead_at(score=99, created_at=now - timedelta(days=3))
    new = lead_at(score=1, created_at=now - timedelta(days=1))

    assert _shown(_list(client, marketer, "sort=created")) == [new.email, old.email]


def test_sort_by_last_activity_puts_leads_without_activity_last(client, marketer):
    now = timezone.now()
    never = LeadFactory(score=99, last_activity_at=None)
    recent = LeadFactory(last_activity_at=now - timedelta(hours=1))
    older = LeadFactory(last_activity_at=now - timedelta(days=5))

    assert _shown(_list(client, marketer, "sort=activity")) == [
        recent.email,
        older.email,
        never.email,
    ]


@pytest.mark.parametrize("order_key", ["score", "created", "activity"])
def test_paging_through_equal_values_shows_every_lead_exactly_once(order_key):
    now = timezone.now()
    for index in range(23):
        # Few distinct values, so pages end in the middle of a tie; some leads never acted.
        lead_at(
            score=index % 3,
            created_at=now - timedelta(days=index % 2),
            last_activity_at=None if index % 4 == 0 else now - timedelta(hours=index % 3),
        )
    leads = Lead.objects.active()

    seen = _every_page(leads, order_key, size=5)

    assert len(seen) == 23
    assert len({lead.pk for lead in seen}) == 23
    order = SORT_ORDERS[order_key]
    expected = list(leads.order_by(*order.export_ordering()))
    assert [lead.pk for lead in seen] == [lead.pk for lead in expected]


@pytest.mark.parametrize("order_key", ["score", "created", "activity"])
def test_previous_goes_back_to_exactly_the_page_before(order_key):
    now = timezone.now()
    for index in range(17):
        lead_at(
            score=index % 2,
            created_at=now - timedelta(minutes=index % 3),
            last_activity_at=None if index % 3 == 0 else now - timedelta(minutes=index % 2),
        )
    order = SORT_ORDERS[order_key]
    leads = Lead.objects.active()
    first = keyset_page(leads, order=order, size=4)
    second = keyset_page(leads, order=order, cursor=first.next_cursor, size=4)
    third = keyset_page(leads, order=order, cursor=second.next_cursor, size=4)

    back_to_second = keyset_page(leads, order=order, cursor=third.previous_cursor, size=4)
    back_to_first = keyset_page(leads, order=order, cursor=second.previous_cursor, size=4)

    assert back_to_second.leads == second.leads
    assert back_to_first.leads == first.leads
    assert back_to_first.previous_cursor is None
    assert first.previous_cursor is None


def test_pages_of_several_stages_by_score_merge_the_stages_in_score_order():
    for index in range(12):
        LeadFactory(stage=[Stage.MQL, Stage.SQL, Stage.CONTACT][index % 3], score=index % 4)
    leads = Lead.objects.active().in_stage(Stage.MQL, Stage.SQL)

    seen = _every_page(leads, "score", size=3, stages=[Stage.MQL, Stage.SQL])

    expected = list(leads.order_by("-score", "-id"))
    assert [lead.pk for lead in seen] == [lead.pk for lead in expected]
    assert len(seen) == 8


def test_next_and_previous_links_keep_the_filters_and_sort_order(client, marketer):
    Lead.objects.bulk_create(
        Lead(email=f"lead{index}@example.nl", stage=Stage.MQL, score=index % 5)
        for index in range(PAGE_SIZE + 5)
    )
    LeadFactory(stage=Stage.CONTACT)

    first = _list(client, marketer, "stage=mql&sort=score&q=")
    second = client.get(first.context["next_url"])

    assert "stage=mql" in first.context["next_url"] and "q=" not in first.context["next_url"]
    assert len(_shown(first)) == PAGE_SIZE and len(_shown(second)) == 5
    assert set(_shown(first)).isdisjoint(_shown(second))
    assert second.context["next_url"] is None
    back = client.get(second.context["previous_url"])
    assert _shown(back) == _shown(first)
    assert "More match" in first.content.decode()


def test_a_mangled_cursor_shows_the_first_page(client, marketer):
    lead = LeadFactory()

    for cursor in ["nonsense", "W10", Cursor("score", 1, 1).encode() + "x", "eyJhIjoxfQ"]:
        response = _list(client, marketer, f"cursor={cursor}")

        assert _shown(response) == [lead.email]


@pytest.mark.parametrize(
    "data",
    [
        ["score", "n", "high", 1],
        ["score", "n", 2**40, 1],
        ["score", "n", 10, 2**70],
        ["score", "n", None, 1],
        ["created", "n", "2026-13-01T00:00:00+00:00", 1],
        ["created", "n", "2026-01-01T00:00:00", 1],
        ["activity", "sideways", None, 1],
        ["price", "n", 1, 1],
    ],
)
def test_a_cursor_leadladder_did_not_make_is_refused(data):
    import base64
    import json

    text = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()

    with pytest.raises(InvalidCursor):
        Cursor.decode(text)


def test_a_page_is_read_without_counting_or_skipping_rows(client, marketer):
    LeadFactory.create_batch(3)
    client.force_login(marketer)
    client.get(LIST)  # the session and permission caches are warm now

    with CaptureQueriesContext(connection) as queries:
        client.get(f"{LIST}?stage=lead&sort=created")

    statements = " ".join(query["sql"].upper() for query in queries.captured_queries)
    assert "COUNT(" not in statements
    assert "OFFSET" not in statements
    assert len(queries) <= 8


# --- htmx -----------------------------------------------------------------------------------


def test_changing_a_filter_with_htmx_swaps_only_the_results(client, marketer):
    lead = LeadFactory(stage=Stage.MQL)

    response = _list(client, marketer, "stage=mql", HX_Request="true", HX_Target="lead-results")

    html = response.content.decode()
    assert lead.email in html
    assert "<html" not in html and 'id="filters-title"' not in html
    assert "HX-Request" in response["Vary"]
    # The address bar shows the filters without the empty fields of the form.
    assert response["HX-Push-Url"] == f"{LIST}?stage=mql"


def test_a_history_restore_gets_the_whole_page(client, marketer):
    response = _list(
        client,
        marketer,
        "",
        HX_Request="true",
        HX_Target="lead-results",
        HX_History_Restore_Request="true",
    )

    assert "<html" in response.content.decode()


def test_the_filter_form_works_without_javascript(client, marketer):
    response = _list(client, marketer)

    html = response.content.decode()
    assert f'<form method="get" action="{LIST}"' in html
    assert 'hx-get="' in html and 'hx-push-url="true"' in html
    assert "<script" not in html.split("</main>")[0].split('<main id="main"')[1]
    assert "style=" not in html


def test_the_query_string_leaves_out_empty_fields_and_the_cursor():
    from django.http import QueryDict

    filterset = LeadFilter(
        QueryDict("q=&stage=mql&stage=sql&cursor=abc&sort=created&unknown=1"), owners=[]
    )

    assert filterset.query_string() == "stage=mql&stage=sql&sort=created"
