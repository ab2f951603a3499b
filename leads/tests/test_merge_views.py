"""Merging a duplicate into a lead from its page: find, compare, confirm, and the history."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation

from consent.models import ConsentMethod
from consent.services import ConsentGiven, record_consents
from leads import views
from leads.models import Event, Lead, LeadMerge, OwnerChange, Stage
from leads.services.merge import MergeRefused, merge_leads
from leads.tests.factories import EventFactory, LeadFactory
from scoring.services import transition

pytestmark = pytest.mark.django_db


def _merge(lead: Lead) -> str:
    return reverse("leads:merge", args=[lead.pk])


def _detail(lead: Lead) -> str:
    return reverse("leads:detail", args=[lead.pk])


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def femke():
    return LeadFactory(
        email="femke@kroon.nl",
        first_name="Femke",
        last_name="Bakker",
        phone="",
        company="Kroon B.V.",
        job_title="Inkoper",
        industry="",
    )


@pytest.fixture
def duplicate(sales_rep):
    return LeadFactory(
        email="f.bakker@gmail.com",
        first_name="Femke",
        last_name="Bakker",
        phone="+31612345678",
        company="Kroon",
        job_title="",
        industry="Bouw",
        owner=sales_rep,
    )


# --- Who may merge --------------------------------------------------------------------------

# Whether each role may merge leads (leads.merge_leads).
MAY_MERGE = {
    "marketer": True,
    "sales_rep": False,
    "sales_manager": False,
    "admin_user": True,
}


@pytest.mark.parametrize("persona", list(MAY_MERGE))
def test_only_roles_that_may_merge_see_the_action_on_the_lead_page(client, request, persona):
    lead = LeadFactory()
    client.force_login(request.getfixturevalue(persona))

    html = client.get(_detail(lead)).content.decode()

    assert (f'href="{_merge(lead)}"' in html) is MAY_MERGE[persona]
    assert ("Merge a duplicate into this lead" in html) is MAY_MERGE[persona]


@pytest.mark.parametrize("persona", [p for p, may in MAY_MERGE.items() if not may])
def test_roles_that_may_not_merge_are_refused_and_nothing_is_merged(
    client, request, persona, femke, duplicate
):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(_merge(femke), {"duplicate": duplicate.email}).status_code == 403
    assert client.post(_merge(femke), {"duplicate": duplicate.pk}).status_code == 403
    assert not LeadMerge.objects.exists()


def test_a_user_without_a_role_may_not_merge(client, no_role_user, femke, duplicate):
    client.force_login(no_role_user)

    assert client.post(_merge(femke), {"duplicate": duplicate.pk}).status_code == 403
    assert not LeadMerge.objects.exists()


# --- Finding the duplicate ------------------------------------------------------------------


def test_the_merge_page_asks_for_the_duplicates_address_or_id(client, marketer, femke):
    client.force_login(marketer)

    response = client.get(_merge(femke))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'method="get"' in html
    assert 'for="id_duplicate"' in html and 'id="id_duplicate"' in html
    assert not response.context["form"].is_bound


@pytest.mark.parametrize("typed", ["F.Bakker@Gmail.com ", "id", "#id"])
def test_the_duplicate_is_found_by_address_or_id(client, marketer, femke, duplicate, typed):
    typed = typed.replace("id", str(duplicate.pk)) if "@" not in typed else typed
    client.force_login(marketer)

    response = client.get(_merge(femke), {"duplicate": typed})

    assert response.status_code == 200
    assert response.templates[0].name == "leads/lead_merge_confirm.html"
    assert response.context["duplicate"] == duplicate
    assert not LeadMerge.objects.exists()  # looking is not merging


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("nobody@example.nl", "No lead has this e-mail address."),
        ("999999", "No lead has the id 999999."),
        ("99999999999999999999999", "No lead has the id 99999999999999999999999."),
        ("self", "That is this lead itself: look up the other record of the person."),
        ("old@kroon.nl", "The lead with this address was merged already."),
        ("merged-id", "That lead was merged already."),
        ("", "This field is required."),
    ],
)
def test_a_duplicate_that_cannot_be_merged_is_a_form_error(client, marketer, femke, typed, message):
    merged = LeadFactory(email="old@kroon.nl", merged_into=LeadFactory())
    typed = {"self": str(femke.pk), "merged-id": str(merged.pk)}.get(typed, typed)
    client.force_login(marketer)

    response = client.get(_merge(femke), {"duplicate": typed})

    assert response.status_code == 200
    assert response.context["form"].errors["duplicate"] == [message]
    assert message in response.content.decode()


def test_a_merged_away_lead_cannot_be_the_survivor(client, marketer, duplicate):
    merged = LeadFactory(merged_into=LeadFactory())
    client.force_login(marketer)

    assert client.get(_merge(merged)).status_code == 404
    assert client.post(_merge(merged), {"duplicate": duplicate.pk}).status_code == 404


# --- Comparing before merging ---------------------------------------------------------------


def _row(response, label: str):
    return next(row for row in response.context["comparison"] if row.label == label)


def test_the_confirmation_shows_what_the_survivor_keeps_and_which_blanks_it_gains(
    client, marketer, sales_rep, femke, duplicate
):
    client.force_login(marketer)

    response = client.get(_merge(femke), {"duplicate": duplicate.email})

    assert _row(response, "Company") == views.MergeRow("Company", "Kroon B.V.", "Kroon", "keeps")
    assert _row(response, "Phone").outcome == "gains"
    assert _row(response, "Industry").outcome == "gains"
    owner = sales_rep.get_full_name()
    assert _row(response, "Owner") == views.MergeRow("Owner", "", owner, "gains")
    assert _row(response, "Job title").outcome == "keeps"
    assert _row(response, "First name").outcome == "same"
    assert _row(response, "E-mail address").outcome == "keeps"
    assert _row(response, "Budget").outcome == ""
    html = response.content.decode()
    assert "Filled in from the duplicate" in html and "This lead&#x27;s value stays" in html
    assert "femke@kroon.nl" in html and "f.bakker@gmail.com" in html


def test_the_confirmation_counts_what_moves_to_the_survivor(
    client, marketer, sales_manager, femke, duplicate
):
    EventFactory.create_batch(3, lead=duplicate)
    EventFactory(lead=femke)
    OwnerChange.objects.create(lead=duplicate, to_owner=sales_manager, actor=sales_manager)
    transition(lead_id=duplicate.pk, to_stage=Stage.MQL, actor=marketer)
    record_consents(
        subject_id=duplicate.pk,
        given=[ConsentGiven("marketing_email", True), ConsentGiven("contact", True)],
        method=ConsentMethod.API,
    )
    client.force_login(marketer)

    response = client.get(_merge(femke), {"duplicate": duplicate.email})

    assert dict(response.context["moving"]) == {
        "Events": 3,
        "Owner changes": 1,
        "Stage transitions": 1,
        "Consent records": 2,
    }
    html = response.content.decode()
    assert "Events: 3" in html and "Consent records: 2" in html
    # The confirmation posts the duplicate's id back to the same page.
    assert f'action="{_merge(femke)}"' in html
    assert f'name="duplicate" value="{duplicate.pk}"' in html


# --- Merging --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", [p for p, may in MAY_MERGE.items() if may])
def test_confirming_merges_the_duplicate_into_the_lead(client, request, persona, femke, duplicate):
    user = request.getfixturevalue(persona)
    EventFactory.create_batch(2, lead=duplicate)
    client.force_login(user)

    response = client.post(_merge(femke), {"duplicate": duplicate.pk})

    assert response.status_code == 302
    assert response.url == _detail(femke)
    assert _messages(response) == ["f.bakker@gmail.com was merged into this lead."]
    merge = LeadMerge.objects.get()
    assert (merge.survivor, merge.duplicate, merge.actor) == (femke, duplicate, user)
    duplicate.refresh_from_db()
    femke.refresh_from_db()
    assert duplicate.merged_into == femke
    assert femke.phone == "+31612345678" and femke.company == "Kroon B.V."
    assert Event.objects.filter(lead=femke).count() == 2


def test_a_refused_merge_is_a_form_error_and_nothing_changes(
    client, marketer, femke, duplicate, monkeypatch
):
    def refuse(**kwargs):
        raise MergeRefused("One of these leads was merged already.")

    monkeypatch.setattr(views, "merge_leads", refuse)
    client.force_login(marketer)

    response = client.post(_merge(femke), {"duplicate": duplicate.pk})

    assert response.status_code == 200
    assert response.context["form"].errors["duplicate"] == [
        "One of these leads was merged already."
    ]
    assert not LeadMerge.objects.exists()


def test_merging_a_duplicate_someone_merged_meanwhile_is_a_form_error(
    client, marketer, femke, duplicate
):
    merge_leads(survivor_id=LeadFactory().pk, duplicate_id=duplicate.pk, actor=marketer)
    client.force_login(marketer)

    response = client.post(_merge(femke), {"duplicate": duplicate.pk})

    assert response.status_code == 200
    assert response.context["form"].errors["duplicate"] == ["That lead was merged already."]
    assert LeadMerge.objects.count() == 1


@pytest.mark.parametrize("posted", [{}, {"duplicate": ""}, {"duplicate": "not a lead"}])
def test_a_forged_confirmation_merges_nothing(client, marketer, femke, posted):
    client.force_login(marketer)

    response = client.post(_merge(femke), posted)

    assert response.status_code == 200
    assert "duplicate" in response.context["form"].errors
    assert not LeadMerge.objects.exists()


# --- The history ----------------------------------------------------------------------------


def test_the_survivors_page_shows_who_merged_what_into_it_newest_first(
    client, marketer, admin_user, femke, duplicate
):
    EventFactory(lead=duplicate)
    merge_leads(survivor_id=femke.pk, duplicate_id=duplicate.pk, actor=marketer)
    later = LeadFactory(email="femke.b@kroon.nl")
    merge_leads(survivor_id=femke.pk, duplicate_id=later.pk, actor=admin_user)
    client.force_login(marketer)

    response = client.get(_detail(femke))

    merges = response.context["merges"]
    assert [merge.duplicate_id for merge in merges] == [later.pk, duplicate.pk]
    assert ("Events", 1) in merges[1].moved_rows
    html = response.content.decode()
    assert "Merged into this lead" in html
    assert html.index("femke.b@kroon.nl") < html.index("f.bakker@gmail.com")
    assert "Ada" in html and "Alice" in html


def test_what_a_merge_moved_is_named_in_the_readers_language(client, marketer, femke, duplicate):
    EventFactory(lead=duplicate)
    with translation.override("nl"):
        merge = merge_leads(survivor_id=femke.pk, duplicate_id=duplicate.pk, actor=marketer)
    assert merge.moved["gebeurtenissen"] == 1
    client.force_login(marketer)

    merges = client.get(_detail(femke)).context["merges"]

    assert merges[0].moved_rows == [("Events", 1)]


def test_a_lead_nothing_was_merged_into_shows_no_merge_history(client, marketer, femke):
    client.force_login(marketer)

    response = client.get(_detail(femke))

    assert response.context["merges"] == []
    assert "Merged into this lead" not in response.content.decode()


@pytest.mark.parametrize("typed", ["²", "١٢", "#³"])
def test_unicode_digits_in_the_duplicate_lookup_get_a_form_error_not_a_crash(
    client, marketer, typed
):
    survivor = LeadFactory()
    client.force_login(marketer)

    response = client.get(reverse("leads:merge", args=[survivor.pk]), {"duplicate": typed})

    assert response.status_code == 200
    assert LeadMerge.objects.count() == 0
