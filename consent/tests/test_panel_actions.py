"""The consent panel on the lead page: pending double opt-in requests, and recording a
verbal grant or withdrawal or resending a confirmation, per role."""

import pytest
from django.urls import reverse
from django.utils import timezone

from consent.models import ClosedReason, ConsentConfirmation, ConsentMethod, ConsentRecord
from consent.services import ConsentGiven, has_consent, record_consents
from consent.tests.doi import DOI_PURPOSE, ask, require_double_opt_in
from leads.models import Lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

LEAD_WORKERS = ["marketer", "sales_rep", "sales_manager", "admin_user"]


@pytest.fixture
def lead():
    require_double_opt_in()
    return LeadFactory()


def _record_url(lead) -> str:
    return reverse("consent_subject:record", args=[lead.pk])


def _resend_url(lead) -> str:
    return reverse("consent_subject:resend", args=[lead.pk])


@pytest.mark.parametrize("persona", LEAD_WORKERS)
def test_every_lead_working_role_records_a_verbal_withdrawal(client, request, lead, persona):
    user = request.getfixturevalue(persona)
    record_consents(
        subject_id=lead.pk, given=[ConsentGiven("phone_contact", True)], method="web_form"
    )
    client.force_login(user)

    response = client.post(_record_url(lead), {"purpose": "phone_contact", "choice": "withdraw"})

    assert response.status_code == 303
    assert response.url == reverse("leads:detail", args=[lead.pk])
    assert not has_consent(lead.pk, "phone_contact")
    record = ConsentRecord.objects.latest("id")
    assert (record.method, record.recorded_by, record.source) == (
        ConsentMethod.VERBAL,
        user,
        f"recorded by {user.username}",
    )


def test_a_verbal_grant_of_a_double_opt_in_purpose_counts_at_once(client, sales_rep, lead):
    client.force_login(sales_rep)

    client.post(_record_url(lead), {"purpose": DOI_PURPOSE, "choice": "grant"})

    assert has_consent(lead.pk, DOI_PURPOSE)
    assert not ConsentConfirmation.objects.exists()
    assert ConsentRecord.objects.get().notice is not None


def test_with_htmx_the_panel_comes_back_with_the_change(client, sales_rep, lead):
    client.force_login(sales_rep)

    response = client.post(
        _record_url(lead), {"purpose": "contact", "choice": "grant"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert f'id="consent-panel-{lead.pk}"' in response.text
    assert "Verbal grant recorded" in response.text
    assert "<html" not in response.text
    assert has_consent(lead.pk, "contact")


def test_without_a_role_nothing_can_be_recorded(client, no_role_user, lead):
    client.force_login(no_role_user)

    response = client.post(_record_url(lead), {"purpose": "contact", "choice": "grant"})

    assert response.status_code == 403 and not ConsentRecord.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(client, lead):
    response = client.post(_record_url(lead), {"purpose": "contact", "choice": "grant"})

    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert not ConsentRecord.objects.exists()


def test_the_actions_take_post_only(client, sales_rep, lead):
    client.force_login(sales_rep)

    assert client.get(_record_url(lead)).status_code == 405
    assert client.get(_resend_url(lead)).status_code == 405


@pytest.mark.parametrize(
    "data",
    [
        {"purpose": "nonsense", "choice": "grant"},
        {"purpose": "contact", "choice": "maybe"},
        {"purpose": "contact"},
        {"choice": "withdraw"},
        {},
    ],
)
def test_bad_input_answers_400_and_changes_nothing(client, marketer, lead, data):
    client.force_login(marketer)

    response = client.post(_record_url(lead), data)

    assert response.status_code == 400 and "Nothing was changed" in response.text
    assert not ConsentRecord.objects.exists()


def test_with_htmx_bad_input_shows_the_error_in_the_panel(client, marketer, lead):
    client.force_login(marketer)

    response = client.post(
        _record_url(lead), {"purpose": "nonsense", "choice": "grant"}, headers={"HX-Request": "1"}
    )

    assert "Nothing was changed" in response.text and "nonsense" in response.text
    assert not ConsentRecord.objects.exists()


def test_a_switched_off_purpose_can_be_withdrawn_but_not_granted(client, marketer, lead):
    from consent.models import Purpose

    Purpose.objects.filter(key="phone_contact").update(is_active=False)
    client.force_login(marketer)

    refused = client.post(_record_url(lead), {"purpose": "phone_contact", "choice": "grant"})
    withdrawn = client.post(_record_url(lead), {"purpose": "phone_contact", "choice": "withdraw"})

    assert refused.status_code == 400 and withdrawn.status_code == 303
    assert ConsentRecord.objects.get().granted is False


def test_a_lead_that_does_not_exist_or_was_merged_away_gets_404(client, marketer, lead):
    survivor = LeadFactory()
    Lead.objects.filter(pk=lead.pk).update(merged_into=survivor)
    client.force_login(marketer)

    for url in (_record_url(lead), reverse("consent_subject:record", args=[999_999])):
        response = client.post(url, {"purpose": "contact", "choice": "grant"})
        assert response.status_code == 404
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize("persona", LEAD_WORKERS)
def test_every_lead_working_role_resends_a_pending_confirmation(client, request, lead, persona):
    old = ask(lead.pk)
    client.force_login(request.getfixturevalue(persona))

    response = client.post(_resend_url(lead), {"purpose": DOI_PURPOSE})

    assert response.status_code == 303
    old.refresh_from_db()
    assert old.closed_reason == ClosedReason.SUPERSEDED
    assert ConsentConfirmation.objects.open().get().pk != old.pk


def test_resend_without_a_pending_request_or_too_often_is_refused(client, sales_rep, lead):
    client.force_login(sales_rep)

    nothing = client.post(_resend_url(lead), {"purpose": DOI_PURPOSE})
    assert nothing.status_code == 400 and "No confirmation is awaited" in nothing.text
    assert client.post(_resend_url(lead), {}).status_code == 400

    ask(lead.pk)
    statuses = [
        client.post(_resend_url(lead), {"purpose": DOI_PURPOSE}).status_code for _ in range(3)
    ]

    assert statuses == [303, 303, 400]
    assert ConsentConfirmation.objects.count() == 3


def test_resend_needs_the_permission(client, no_role_user, lead):
    ask(lead.pk)
    client.force_login(no_role_user)

    assert client.post(_resend_url(lead), {"purpose": DOI_PURPOSE}).status_code == 403
    assert ConsentConfirmation.objects.count() == 1


def test_the_lead_page_shows_a_pending_request_and_the_forms(client, sales_rep, lead):
    confirmation = ask(lead.pk)
    client.force_login(sales_rep)

    page = client.get(reverse("leads:detail", args=[lead.pk]))

    assert page.status_code == 200
    assert "Awaiting confirmation" in page.text and "link expires" in page.text
    assert "Resend confirmation" in page.text
    assert f'action="{_record_url(lead)}"' in page.text
    assert 'name="csrfmiddlewaretoken"' in page.text
    assert f'datetime="{timezone.localtime(confirmation.requested_at).isoformat()}' in page.text


def test_the_panel_without_the_permission_has_no_forms(lead):
    from django.template import Context, Template

    ask(lead.pk)
    html = Template("{% load consent_tags %}{% consent_panel subject_id %}").render(
        Context({"subject_id": lead.pk})
    )

    assert "Awaiting confirmation" in html
    assert "Resend confirmation" not in html and "Verbal grant" not in html
