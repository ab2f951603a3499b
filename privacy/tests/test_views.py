"""The privacy card on the lead page, the erase confirmation page and the request log."""

import io
import json
import zipfile

import pytest
from django.urls import reverse

from leads.models import Lead
from privacy.models import SubjectRequest
from privacy.tests.conftest import EMAIL, FIRST_NAME, LAST_NAME, OTHER_EMAIL

pytestmark = pytest.mark.django_db

NOT_ADMINS = ["marketer", "sales_rep", "sales_manager", "no_role_user"]
LEAD_WORKERS = ["marketer", "sales_rep", "sales_manager"]


def test_ada_the_admin_sees_export_and_erase_on_the_lead_page(client, admin_user, person):
    client.force_login(admin_user)

    html = client.get(reverse("leads:detail", args=[person.lead.pk])).content.decode()

    assert reverse("privacy:export", args=[person.lead.pk]) in html
    assert reverse("privacy:erase", args=[person.lead.pk]) in html


@pytest.mark.parametrize("persona", LEAD_WORKERS)
def test_people_working_leads_see_the_card_without_buttons(client, request, persona, person):
    client.force_login(request.getfixturevalue(persona))

    html = client.get(reverse("leads:detail", args=[person.lead.pk])).content.decode()

    assert "privacy-panel" in html
    assert reverse("privacy:export", args=[person.lead.pk]) not in html
    assert reverse("privacy:erase", args=[person.lead.pk]) not in html


def test_export_downloads_the_zip_and_logs_the_request(client, admin_user, person):
    client.force_login(admin_user)

    response = client.post(reverse("privacy:export", args=[person.lead.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert EMAIL not in response["Content-Disposition"]
    document = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("subject.json"))
    assert document["profile"]["email"] == EMAIL
    log = SubjectRequest.objects.get()
    assert (log.kind, log.actor, log.channel) == ("export", admin_user, "web")


@pytest.mark.parametrize("persona", NOT_ADMINS)
def test_only_admins_may_export_or_erase(client, request, persona, person):
    client.force_login(request.getfixturevalue(persona))
    erase_url = reverse("privacy:erase", args=[person.lead.pk])

    exported = client.post(reverse("privacy:export", args=[person.lead.pk]))
    erased = client.post(erase_url, {"confirm_email": EMAIL, "reason": "request"})

    assert exported.status_code == 403
    assert erased.status_code == 403
    assert Lead.objects.filter(pk=person.lead.pk).exists()
    assert not SubjectRequest.objects.exists()


def test_the_erase_page_lists_the_consequences_and_asks_for_the_address(client, admin_user, person):
    client.force_login(admin_user)

    response = client.get(reverse("privacy:erase", args=[person.lead.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "erase-consequences" in html
    assert "the lead merged into it" in html
    assert 'name="confirm_email"' in html


def test_erasing_with_the_typed_address_erases_and_goes_to_the_lead_list(
    client, admin_user, person
):
    client.force_login(admin_user)

    response = client.post(
        reverse("privacy:erase", args=[person.lead.pk]),
        {"confirm_email": f" {EMAIL.upper()} ", "reason": "Ticket 42"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == reverse("leads:list")
    assert not Lead.objects.filter(pk__in=[person.lead.pk, person.old.pk]).exists()
    log = SubjectRequest.objects.get()
    assert (log.kind, log.actor, log.channel, log.reason) == (
        "erasure",
        admin_user,
        "web",
        "Ticket 42",
    )
    html = response.content.decode()
    assert str(log.reference) in html
    assert EMAIL not in html


@pytest.mark.parametrize(
    "data",
    [
        {"confirm_email": OTHER_EMAIL, "reason": "request"},
        {"confirm_email": "", "reason": "request"},
        {"confirm_email": EMAIL, "reason": ""},
        {},
    ],
)
def test_a_wrong_or_missing_confirmation_is_a_form_error_and_erases_nothing(
    client, admin_user, person, data
):
    client.force_login(admin_user)

    response = client.post(reverse("privacy:erase", args=[person.lead.pk]), data)

    assert response.status_code == 400
    assert "is-invalid" in response.content.decode()
    assert Lead.objects.filter(pk__in=[person.lead.pk, person.old.pk]).count() == 2
    assert not SubjectRequest.objects.exists()


def test_the_pages_of_a_lead_that_does_not_exist_are_404(client, admin_user):
    client.force_login(admin_user)

    assert client.get(reverse("privacy:erase", args=[999999])).status_code == 404
    assert client.post(reverse("privacy:export", args=[999999])).status_code == 404


def test_a_merged_away_lead_leads_to_the_whole_person(client, admin_user, person):
    client.force_login(admin_user)

    response = client.post(
        reverse("privacy:erase", args=[person.old.pk]),
        {"confirm_email": EMAIL, "reason": "request"},
    )

    assert response.status_code == 302
    assert list(Lead.objects.values_list("email", flat=True)) == [OTHER_EMAIL]


def test_the_log_lists_exports_and_erasures_without_the_person(client, admin_user, person):
    client.force_login(admin_user)
    client.post(reverse("privacy:export", args=[person.lead.pk]))
    client.post(
        reverse("privacy:erase", args=[person.lead.pk]),
        {"confirm_email": EMAIL, "reason": f"Asked by {FIRST_NAME}"},
    )

    html = client.get(reverse("privacy:requests")).content.decode()

    assert html.count("<tr>") == 3  # header and two requests
    assert "Asked by [erased]" in html
    assert "1 leads merged into it" in html
    for trace in (EMAIL, FIRST_NAME, LAST_NAME):
        assert trace not in html
