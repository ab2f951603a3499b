"""Giving leads to an owner: the service, its history rows, and the bulk action of the list."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from leads.models import Lead, OwnerChange
from leads.services.assignment import assign_owner
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

ASSIGN = reverse("leads:assign")


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- The service ----------------------------------------------------------------------------


def test_assigning_records_one_owner_change_per_lead_that_changed(sales_manager, sales_rep):
    unowned = LeadFactory(owner=None)
    others = LeadFactory(owner=sales_manager)
    already = LeadFactory(owner=sales_rep)

    changed = assign_owner(
        leads=[unowned, others, already], owner=sales_rep, actor=sales_manager, reason="Region"
    )

    assert changed == 2
    assert set(Lead.objects.filter(owner=sales_rep)) == {unowned, others, already}
    history = {change.lead: change for change in OwnerChange.objects.all()}
    assert set(history) == {unowned, others}
    assert history[unowned].from_owner is None
    assert history[others].from_owner == sales_manager
    assert {change.to_owner for change in history.values()} == {sales_rep}
    assert {change.actor for change in history.values()} == {sales_manager}
    assert {change.reason for change in history.values()} == {"Region"}


def test_unassigning_leaves_the_leads_without_owner_and_records_it(sales_manager, sales_rep):
    lead = LeadFactory(owner=sales_rep)

    assert assign_owner(leads=[lead.pk], owner=None, actor=sales_manager) == 1

    lead.refresh_from_db()
    assert lead.owner is None
    change = OwnerChange.objects.get()
    assert (change.from_owner, change.to_owner) == (sales_rep, None)


def test_leads_that_were_merged_away_keep_their_owner(sales_manager, sales_rep):
    survivor = LeadFactory()
    merged = LeadFactory(merged_into=survivor)

    assert assign_owner(leads=[merged], owner=sales_rep, actor=sales_manager) == 0

    merged.refresh_from_db()
    assert merged.owner is None
    assert not OwnerChange.objects.exists()


def test_assigning_the_owner_a_lead_already_has_changes_nothing(sales_manager, sales_rep):
    lead = LeadFactory(owner=sales_rep)
    before = Lead.objects.get(pk=lead.pk).updated_at

    assert assign_owner(leads=[lead], owner=sales_rep, actor=sales_manager) == 0
    assert assign_owner(leads=[], owner=sales_rep, actor=sales_manager) == 0

    assert Lead.objects.get(pk=lead.pk).updated_at == before
    assert not OwnerChange.objects.exists()


# --- The bulk action ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["sales_manager", "admin_user"])
def test_managers_and_admins_assign_ticked_leads_from_the_list(client, request, persona, sales_rep):
    actor = request.getfixturevalue(persona)
    leads = LeadFactory.create_batch(2)
    client.force_login(actor)

    response = client.post(
        ASSIGN,
        {
            "lead": [lead.pk for lead in leads],
            "owner": sales_rep.pk,
            "reason": "Noord",
            "next": "/leads/?stage=lead",
        },
    )

    assert response.status_code == 302
    assert response.url == "/leads/?stage=lead"
    assert Lead.objects.filter(owner=sales_rep).count() == 2
    assert OwnerChange.objects.filter(actor=actor, reason="Noord").count() == 2
    assert _messages(response) == ["2 leads got a new owner."]


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "other_rep", "no_role_user"])
def test_roles_without_assign_permission_get_403_and_nothing_changes(
    client, request, persona, sales_rep
):
    lead = LeadFactory(owner=None)
    client.force_login(request.getfixturevalue(persona))

    response = client.post(ASSIGN, {"lead": [lead.pk], "owner": sales_rep.pk})

    assert response.status_code == 403
    lead.refresh_from_db()
    assert lead.owner is None
    assert not OwnerChange.objects.exists()


def test_an_anonymous_visitor_is_sent_to_log_in_and_nothing_changes(client, sales_rep):
    lead = LeadFactory(owner=None)

    response = client.post(ASSIGN, {"lead": [lead.pk], "owner": sales_rep.pk})

    assert response.status_code == 302
    assert reverse("accounts:login") in response.url
    assert not OwnerChange.objects.exists()


def test_assigning_without_ticked_leads_says_so(client, sales_manager, sales_rep):
    client.force_login(sales_manager)

    response = client.post(ASSIGN, {"owner": sales_rep.pk})

    assert response.status_code == 302
    assert _messages(response) == ["Select at least one lead."]


def test_only_people_who_sell_can_be_made_owner(client, sales_manager, marketer):
    lead = LeadFactory(owner=None)
    client.force_login(sales_manager)

    response = client.post(ASSIGN, {"lead": [lead.pk], "owner": marketer.pk})

    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner is None
    assert len(_messages(response)) == 1
    assert not OwnerChange.objects.exists()


@pytest.mark.parametrize("lead_value", ["abc", "999999999"])
def test_a_made_up_lead_is_refused_and_nothing_changes(
    client, sales_manager, sales_rep, lead_value
):
    lead = LeadFactory(owner=None)
    client.force_login(sales_manager)

    response = client.post(ASSIGN, {"lead": [lead.pk, lead_value], "owner": sales_rep.pk})

    assert response.status_code == 302
    assert not OwnerChange.objects.exists()


def test_after_assigning_the_list_comes_back_but_never_another_site(
    client, sales_manager, sales_rep
):
    lead = LeadFactory()
    client.force_login(sales_manager)

    response = client.post(
        ASSIGN, {"lead": [lead.pk], "owner": sales_rep.pk, "next": "https://evil.example/"}
    )

    assert response.url == reverse("leads:list")


def test_assigning_from_the_lead_page_returns_there_with_the_history_shown(
    client, sales_manager, sales_rep
):
    lead = LeadFactory(owner=None)
    detail = reverse("leads:detail", args=[lead.pk])
    client.force_login(sales_manager)

    response = client.post(
        ASSIGN, {"lead": [lead.pk], "owner": sales_rep.pk, "next": detail}, follow=True
    )

    assert response.redirect_chain == [(detail, 302)]
    html = response.content.decode()
    assert "1 lead got a new owner." in html
    assert list(response.context["owner_changes"]) == list(OwnerChange.objects.all())


def test_assigning_more_leads_than_a_bulk_action_allows_is_refused(
    client, sales_manager, sales_rep
):
    from leads.forms import MAX_BULK_LEADS

    lead = LeadFactory(owner=None)
    client.force_login(sales_manager)

    response = client.post(
        ASSIGN, {"lead": [lead.pk, *range(10**6, 10**6 + MAX_BULK_LEADS)], "owner": sales_rep.pk}
    )

    assert response.status_code == 302
    assert any("at most" in message for message in _messages(response))
    lead.refresh_from_db()
    assert lead.owner is None
    assert not OwnerChange.objects.exists()
