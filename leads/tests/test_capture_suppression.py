"""Capture meets people erased on request: refused without a new consent, welcomed with one."""

import pytest

from consent.models import ConsentMethod, ConsentRecord, NoticeVersion, Purpose
from leads.models import Event, Lead, Source
from leads.services.capture import (
    ERASED_ADDRESS,
    CaptureContext,
    CaptureRejected,
    CaptureRow,
    ConsentGiven,
    capture_lead,
    capture_leads,
)
from leads.tests.test_capture import implementation  # noqa: F401 (both ways of writing)
from outbox.models import OutboxMessage
from privacy.models import SuppressedAddress, address_hash

pytestmark = pytest.mark.django_db

API = CaptureContext(channel=Source.API, consent_method=ConsentMethod.API)


@pytest.fixture
def erased():
    SuppressedAddress.objects.create(address_hash=address_hash("gone@example.nl"))
    return "gone@example.nl"


def test_an_erased_address_without_consent_is_refused_and_nothing_is_written(
    implementation,  # noqa: F811
    erased,
):
    with pytest.raises(CaptureRejected) as refused:
        capture_lead(data={"email": " Gone@Example.NL ", "first_name": "Again"}, context=API)

    assert refused.value.errors == {"email": [str(ERASED_ADDRESS)]}
    assert (Lead.objects.count(), Event.objects.count(), OutboxMessage.objects.count()) == (0, 0, 0)
    assert SuppressedAddress.objects.filter(address_hash=address_hash(erased)).exists()


def test_a_withdrawal_alone_does_not_bring_an_erased_person_back(implementation, erased):  # noqa: F811
    with pytest.raises(CaptureRejected):
        capture_lead(data={"email": erased}, context=API, consents=[ConsentGiven("contact", False)])

    assert not Lead.objects.exists()


def test_a_new_consent_lifts_the_suppression_and_captures_the_person(implementation, erased):  # noqa: F811
    result = capture_lead(
        data={"email": erased, "first_name": "Again"},
        context=API,
        consents=[ConsentGiven("contact", True)],
    )

    assert result.created
    assert Lead.objects.get().first_name == "Again"
    assert ConsentRecord.objects.get().granted
    assert not SuppressedAddress.objects.exists()


def test_in_a_batch_only_the_erased_rows_without_consent_are_refused(implementation, erased):  # noqa: F811
    batch = capture_leads(
        rows=[
            CaptureRow(data={"email": "kept@example.nl"}),
            CaptureRow(data={"email": erased}),
        ],
        context=API,
    )

    assert batch.errors == {1: {"email": [str(ERASED_ADDRESS)]}}
    assert list(Lead.objects.values_list("email", flat=True)) == ["kept@example.nl"]


def test_other_addresses_are_not_affected_by_the_list(implementation, erased):  # noqa: F811
    assert capture_lead(data={"email": "someone.else@example.nl"}, context=API).created


def test_a_grant_needing_double_opt_in_is_not_recorded_but_asked(implementation):  # noqa: F811
    purpose = Purpose.objects.get(key="marketing_email")
    purpose.requires_double_opt_in = True
    purpose.save()
    assert NoticeVersion.objects.filter(purpose=purpose).exists()

    result = capture_lead(
        data={"email": "doi@example.nl"},
        context=API,
        consents=[ConsentGiven("marketing_email", True), ConsentGiven("contact", True)],
    )

    recorded = ConsentRecord.objects.values_list("purpose__key", flat=True)
    assert list(recorded) == ["contact"]
    from consent.models import ConsentConfirmation
    from outbox.services import publish_pending  # noqa: F401

    # The single statement asks for a task; the ORM steps ask at once. Either way, once
    # the outbox's tasks ran, one confirmation is pending for the lead.
    _run_confirmation_requests()
    pending = ConsentConfirmation.objects.get()
    assert (pending.subject_id, pending.purpose.key) == (result.lead_id, "marketing_email")


def _run_confirmation_requests() -> None:
    from leads.services.capture import CONFIRMATION_TASK
    from leads.tasks import request_confirmation_task

    for message in OutboxMessage.objects.filter(task=CONFIRMATION_TASK):
        request_confirmation_task(*message.args)
        request_confirmation_task(*message.args)  # twice: the second asks nothing again


def test_a_grant_waiting_for_double_opt_in_lifts_the_suppression_only_once_confirmed(
    implementation,  # noqa: F811
    erased,
):
    """Anyone can type an erased address into a form and tick a box: only the person's own
    confirmation is the new consent that lifts the suppression."""
    from consent.confirmation import confirm
    from consent.links import confirmation_token
    from consent.models import ConsentConfirmation

    Purpose.objects.filter(key="marketing_email").update(requires_double_opt_in=True)

    capture_lead(
        data={"email": erased}, context=API, consents=[ConsentGiven("marketing_email", True)]
    )
    _run_confirmation_requests()

    assert SuppressedAddress.objects.filter(address_hash=address_hash(erased)).exists()
    confirm(confirmation_token(ConsentConfirmation.objects.get().pk))
    assert not SuppressedAddress.objects.filter(address_hash=address_hash(erased)).exists()
