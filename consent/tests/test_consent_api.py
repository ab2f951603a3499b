"""POST /api/v1/consents/: integrations record grants and withdrawals, all or nothing."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from consent.models import ConsentMethod, ConsentRecord, Purpose
from consent.services import consent_status
from leads.tests.factories import LeadFactory
from privacy.models import SuppressedAddress, address_hash

pytestmark = pytest.mark.django_db

URL = "/api/v1/consents/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def alice(marketer) -> APIClient:
    """Alice's marketing automation, posting as her."""
    return client_for(marketer)


@pytest.fixture
def sanne(db):
    return LeadFactory(email="sanne@bakkerij.nl")


def _post(client, body, **extra):
    return client.post(URL, body, format="json", **extra)


def test_the_url_name_is_api_consents():
    assert reverse("api:consents") == URL


# --- Recording --------------------------------------------------------------------------------


def test_a_grant_by_email_is_recorded_with_its_evidence(alice, marketer, sanne):
    response = _post(
        alice,
        {
            "email": "  Sanne@Bakkerij.NL ",
            "purpose": "contact",
            "granted": True,
            "source": "https://bakkerij.nl/contact",
            "evidence": "submission 81",
        },
        REMOTE_ADDR="192.0.2.7",
        HTTP_USER_AGENT="Automation/1.0",
    )

    assert response.status_code == 201, response.json()
    assert response.json() == {
        "lead": sanne.pk,
        "purpose": "contact",
        "granted": True,
        "status": "granted",
    }
    record = ConsentRecord.objects.get(subject_id=sanne.pk)
    assert record.granted and record.method == ConsentMethod.API
    assert record.notice == Purpose.objects.get(key="contact").current_notice()
    assert (record.source, record.evidence) == ("https://bakkerij.nl/contact", "submission 81")
    assert (record.ip_address, record.user_agent) == ("192.0.2.7", "Automation/1.0")
    assert record.recorded_by == marketer


def test_a_withdrawal_by_lead_id_takes_effect_at_once(alice, sanne):
    _post(alice, {"lead": sanne.pk, "purpose": "contact", "granted": True})

    response = _post(alice, {"lead": sanne.pk, "purpose": "contact", "granted": False})

    assert response.status_code == 201
    assert response.json()["status"] == "withdrawn"
    assert consent_status(sanne.pk)["contact"].granted is False


def test_without_a_source_the_api_path_is_recorded(alice, sanne):
    _post(alice, {"lead": sanne.pk, "purpose": "contact", "granted": True})

    assert ConsentRecord.objects.get(subject_id=sanne.pk).source == URL


def test_a_grant_names_the_notice_version_the_person_was_shown(alice, sanne):
    purpose = Purpose.objects.get(key="contact")
    first = purpose.current_notice()
    purpose.notices.create(version=first.version + 1, text_en="New", text_nl="Nieuw")

    _post(
        alice,
        {"lead": sanne.pk, "purpose": "contact", "granted": True, "notice_version": first.version},
    )

    assert ConsentRecord.objects.get(subject_id=sanne.pk).notice == first


def test_a_grant_of_a_double_opt_in_purpose_is_pending(alice, sanne):
    Purpose.objects.filter(key="marketing_email").update(requires_double_opt_in=True)

    response = _post(alice, {"lead": sanne.pk, "purpose": "marketing_email", "granted": True})

    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "pending"
    assert not ConsentRecord.objects.filter(subject_id=sanne.pk, granted=True).exists()


def test_a_batch_is_recorded_in_order_and_answers_per_item(alice, sanne):
    joris = LeadFactory(email="joris@smederij.nl")

    response = _post(
        alice,
        [
            {"email": "sanne@bakkerij.nl", "purpose": "contact", "granted": True},
            {"lead": joris.pk, "purpose": "phone_contact", "granted": True, "evidence": "r2"},
            {"email": "sanne@bakkerij.nl", "purpose": "contact", "granted": False},
        ],
    )

    assert response.status_code == 201, response.json()
    assert [(item["lead"], item["purpose"], item["status"]) for item in response.json()] == [
        (sanne.pk, "contact", "withdrawn"),
        (joris.pk, "phone_contact", "granted"),
        (sanne.pk, "contact", "withdrawn"),
    ]
    assert ConsentRecord.objects.count() == 3
    assert consent_status(sanne.pk)["contact"].granted is False


def test_a_withdrawal_of_a_switched_off_purpose_is_accepted(alice, sanne):
    Purpose.objects.filter(key="phone_contact").update(is_active=False)

    response = _post(alice, {"lead": sanne.pk, "purpose": "phone_contact", "granted": False})

    assert response.status_code == 201


def test_a_merged_away_address_reaches_the_surviving_lead(alice, sanne):
    LeadFactory(email="s.old@bakkerij.nl", merged_into=sanne)

    response = _post(alice, {"email": "s.old@bakkerij.nl", "purpose": "contact", "granted": True})

    assert response.status_code == 201
    assert response.json()["lead"] == sanne.pk


# --- Refusals: nothing is recorded --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "sanne@bakkerij.nl", "purpose": "astrology", "granted": True}, "purpose"),
        ({"email": "sanne@bakkerij.nl", "purpose": "contact"}, "granted"),
        ({"email": "sanne@bakkerij.nl", "granted": True}, "purpose"),
        ({"email": "sanne@bakkerij.nl", "purpose": "contact", "granted": "maybe"}, "granted"),
        (
            {"email": "sanne@bakkerij.nl", "purpose": "contact", "granted": True, "stage": "mql"},
            "stage",
        ),
        (
            {"email": "sanne@bakkerij.nl", "purpose": "contact", "granted": True, "source": ["x"]},
            "source",
        ),
        (
            {
                "email": "sanne@bakkerij.nl",
                "purpose": "contact",
                "granted": True,
                "notice_version": 99,
            },
            "notice_version",
        ),
        (
            {
                "email": "sanne@bakkerij.nl",
                "purpose": "contact",
                "granted": False,
                "notice_version": 1,
            },
            "notice_version",
        ),
        ({"purpose": "contact", "granted": True}, "non_field_errors"),
        (
            {"email": "sanne@bakkerij.nl", "lead": 1, "purpose": "contact", "granted": True},
            "non_field_errors",
        ),
        ("consent please", "non_field_errors"),
    ],
)
def test_bad_input_is_refused_with_400_naming_the_field(alice, sanne, body, field):
    response = _post(alice, body)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not ConsentRecord.objects.exists()


def test_a_grant_of_a_switched_off_purpose_is_refused(alice, sanne):
    Purpose.objects.filter(key="phone_contact").update(is_active=False)

    response = _post(alice, {"lead": sanne.pk, "purpose": "phone_contact", "granted": True})

    assert response.status_code == 400
    assert "not active" in response.json()["errors"]["purpose"][0]
    assert not ConsentRecord.objects.exists()


def test_an_unknown_lead_is_404(alice):
    by_email = _post(alice, {"email": "nobody@example.nl", "purpose": "contact", "granted": True})
    by_id = _post(alice, {"lead": 987654, "purpose": "contact", "granted": True})

    assert by_email.status_code == 404
    assert by_email.json() == {"errors": {"email": ["No lead has this e-mail address."]}}
    assert by_id.status_code == 404
    assert by_id.json() == {"errors": {"lead": ["No such lead."]}}


def test_a_lead_merged_away_named_by_id_names_its_survivor(alice, sanne):
    old = LeadFactory(email="s.old@bakkerij.nl", merged_into=sanne)

    response = _post(alice, {"lead": old.pk, "purpose": "contact", "granted": True})

    assert response.status_code == 404
    assert str(sanne.pk) in response.json()["errors"]["lead"][0]


def test_a_withdrawal_for_an_erased_person_is_gone_with_a_clear_message(alice):
    SuppressedAddress.objects.create(address_hash=address_hash("erased@example.nl"))

    withdrawal = _post(
        alice, {"email": "Erased@Example.nl", "purpose": "marketing_email", "granted": False}
    )
    grant = _post(alice, {"email": "erased@example.nl", "purpose": "contact", "granted": True})

    assert withdrawal.status_code == 410
    assert "erased" in withdrawal.json()["errors"]["email"][0]
    assert grant.status_code == 410
    assert "erased" in grant.json()["errors"]["email"][0]
    assert not ConsentRecord.objects.exists()


def test_one_bad_item_saves_nothing_of_the_batch(alice, sanne):
    response = _post(
        alice,
        [
            {"lead": sanne.pk, "purpose": "contact", "granted": True},
            {"lead": sanne.pk, "purpose": "marketing_email", "granted": True},
            {"lead": sanne.pk, "purpose": "astrology", "granted": True},
        ],
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["2"]
    assert "purpose" in response.json()["errors"]["2"]
    assert not ConsentRecord.objects.exists()


def test_a_batch_with_an_unknown_lead_saves_nothing_and_is_404(alice, sanne):
    response = _post(
        alice,
        [
            {"lead": sanne.pk, "purpose": "contact", "granted": True},
            {"email": "nobody@example.nl", "purpose": "contact", "granted": True},
        ],
    )

    assert response.status_code == 404
    assert response.json() == {"errors": {"1": {"email": ["No lead has this e-mail address."]}}}
    assert not ConsentRecord.objects.exists()


def test_a_batch_naming_an_erased_person_and_an_unknown_lead_is_gone_and_names_both(alice):
    SuppressedAddress.objects.create(address_hash=address_hash("erased@example.nl"))

    response = _post(
        alice,
        [
            {"email": "nobody@example.nl", "purpose": "contact", "granted": True},
            {"email": "erased@example.nl", "purpose": "contact", "granted": False},
        ],
    )

    assert response.status_code == 410
    assert set(response.json()["errors"]) == {"0", "1"}


def test_an_invalid_item_outranks_a_missing_lead(alice):
    response = _post(
        alice,
        [
            {"email": "nobody@example.nl", "purpose": "contact", "granted": True},
            {"email": "nobody@example.nl", "purpose": "contact"},
        ],
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"0", "1"}


def test_an_empty_or_too_long_batch_is_refused(alice, sanne):
    item = {"lead": sanne.pk, "purpose": "contact", "granted": True}

    empty = _post(alice, [])
    too_long = _post(alice, [item] * 501)

    assert empty.status_code == too_long.status_code == 400
    assert "at most 500" in too_long.json()["errors"]["non_field_errors"][0]
    assert not ConsentRecord.objects.exists()


def test_a_batch_of_500_is_accepted(alice, sanne):
    item = {"lead": sanne.pk, "purpose": "contact", "granted": True}

    response = _post(alice, [item] * 500)

    assert response.status_code == 201
    assert ConsentRecord.objects.count() == 500


# --- Who may record ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "admin_user"])
def test_every_role_working_leads_records_consent(request, persona, sanne):
    client = client_for(request.getfixturevalue(persona))

    response = _post(client, {"lead": sanne.pk, "purpose": "contact", "granted": True})

    assert response.status_code == 201


def test_a_user_without_a_role_is_refused(no_role_user, sanne):
    response = _post(
        client_for(no_role_user), {"lead": sanne.pk, "purpose": "contact", "granted": True}
    )

    assert response.status_code == 403
    assert not ConsentRecord.objects.exists()


def test_an_anonymous_caller_is_refused(sanne):
    response = _post(APIClient(), {"lead": sanne.pk, "purpose": "contact", "granted": True})

    assert response.status_code == 401
    assert "detail" in response.json()["errors"]
    assert not ConsentRecord.objects.exists()


def test_a_retry_with_the_same_idempotency_key_records_once(alice, sanne):
    body = {"lead": sanne.pk, "purpose": "contact", "granted": True}

    first = _post(alice, body, HTTP_IDEMPOTENCY_KEY="k-1")
    second = _post(alice, body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == second.status_code == 201
    assert ConsentRecord.objects.count() == 1
