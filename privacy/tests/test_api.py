"""POST /api/v1/subjects/export/ and /api/v1/subjects/erase/."""

import io
import json
import zipfile

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from leads.models import Lead
from privacy import services
from privacy.models import SubjectRequest
from privacy.tests.conftest import EMAIL, OLD_EMAIL, OTHER_EMAIL

pytestmark = pytest.mark.django_db

EXPORT = reverse("api:subject-export")
ERASE = reverse("api:subject-erase")
NOT_ADMINS = ["marketer", "sales_rep", "sales_manager", "no_role_user"]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def ada(admin_user) -> APIClient:
    return client_for(admin_user)


def test_export_answers_the_zip_of_the_person(ada, person, admin_user):
    response = ada.post(EXPORT, {"email": OLD_EMAIL.upper()}, format="json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    document = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("subject.json"))
    assert document["profile"]["email"] == EMAIL
    log = SubjectRequest.objects.get()
    assert (log.kind, log.actor, log.channel) == ("export", admin_user, "api")


def test_erase_answers_the_log_entry_with_counts(ada, person, admin_user):
    response = ada.post(ERASE, {"email": EMAIL, "reason": "Ticket 7"}, format="json")

    assert response.status_code == 200
    body = response.json()
    log = SubjectRequest.objects.get()
    assert body["id"] == log.pk
    assert body["reference"] == str(log.reference)
    assert body["counts"]["leads"] == 1
    assert body["counts"]["merged_leads"] == 1
    assert (log.actor, log.channel) == (admin_user, "api")
    assert list(Lead.objects.values_list("email", flat=True)) == [OTHER_EMAIL]


def _body(url: str, email: str) -> dict:
    return {"email": email, "reason": "x"} if url == ERASE else {"email": email}


@pytest.mark.parametrize("url", [EXPORT, ERASE])
def test_an_unknown_address_is_404_json(ada, person, url):
    response = ada.post(url, _body(url, "nobody@nowhere.nl"), format="json")

    assert response.status_code == 404
    assert "email" in response.json()["errors"]
    assert not SubjectRequest.objects.exists()


@pytest.mark.parametrize("url", [EXPORT, ERASE])
def test_an_erased_address_is_410_with_a_message(ada, person, url):
    services.erase_subject(lead=person.lead, reason="first request", channel="web")

    response = ada.post(url, _body(url, EMAIL), format="json")

    assert response.status_code == 410
    assert "erased" in response.json()["errors"]["email"][0]
    assert SubjectRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "data", "field"),
    [
        (EXPORT, {}, "email"),
        (EXPORT, {"email": "not an address"}, "email"),
        (EXPORT, {"email": EMAIL, "name": "x"}, "name"),
        (ERASE, {"email": EMAIL}, "reason"),
        (ERASE, {"email": EMAIL, "reason": ""}, "reason"),
        (ERASE, {"email": EMAIL, "reason": "x" * 2001}, "reason"),
    ],
)
def test_bad_input_is_400_and_changes_nothing(ada, person, url, data, field):
    response = ada.post(url, data, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Lead.objects.count() == 3
    assert not SubjectRequest.objects.exists()


def test_a_body_that_is_not_an_object_is_400(ada, person):
    response = ada.post(ERASE, ["x"], format="json")

    assert response.status_code == 400
    assert Lead.objects.count() == 3


@pytest.mark.parametrize("persona", NOT_ADMINS)
@pytest.mark.parametrize("url", [EXPORT, ERASE])
def test_only_admins_may_use_the_subject_api(request, persona, person, url):
    client = client_for(request.getfixturevalue(persona))

    response = client.post(url, _body(url, EMAIL), format="json")

    assert response.status_code == 403
    assert "errors" in response.json()
    assert Lead.objects.count() == 3
    assert not SubjectRequest.objects.exists()


@pytest.mark.parametrize("url", [EXPORT, ERASE])
def test_without_credentials_the_api_answers_401(person, url):
    response = APIClient().post(url, _body(url, EMAIL), format="json")

    assert response.status_code == 401
    assert Lead.objects.count() == 3
