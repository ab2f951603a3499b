"""Double opt-in: a grant through a channel that does not prove the address waits for the
person to follow a signed link sent to their address."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from consent import confirmation as confirmations
from consent.links import confirmation_token
from consent.models import ClosedReason, ConsentConfirmation, ConsentMethod, ConsentRecord
from consent.services import (
    ConsentGiven,
    ConsentStatus,
    UnknownPurpose,
    consent_state,
    has_consent,
    move_subject,
    record_consents,
)
from consent.tasks import expire_confirmations_task
from consent.tests.doi import DOI_PURPOSE, ask, link_in, require_double_opt_in, send
from leads.tests.factories import LeadFactory
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def purpose():
    return require_double_opt_in()


@pytest.fixture
def lead():
    return LeadFactory(email="carla@example.nl")


def _web_form_grant(lead, *keys, **kwargs):
    return record_consents(
        subject_id=lead.pk,
        given=[ConsentGiven(key, True) for key in keys],
        method=kwargs.pop("method", ConsentMethod.WEB_FORM),
        source="https://example.nl/form",
        ip_address="192.0.2.7",
        user_agent="Firefox",
        evidence="submission:12",
        **kwargs,
    )


def test_a_web_form_grant_of_a_double_opt_in_purpose_waits_for_confirmation(purpose, lead):
    records = _web_form_grant(lead, DOI_PURPOSE, "contact")

    assert [record.purpose.key for record in records] == ["contact"]
    confirmation = ConsentConfirmation.objects.get()
    assert (confirmation.subject_id, confirmation.purpose, confirmation.method) == (
        lead.pk,
        purpose,
        ConsentMethod.WEB_FORM,
    )
    assert confirmation.source == "https://example.nl/form"
    assert confirmation.ip_address == "192.0.2.7" and confirmation.evidence == "submission:12"
    assert confirmation.notice == purpose.current_notice()
    assert confirmation.expires_at - confirmation.requested_at == timedelta(days=7)
    assert consent_state(lead.pk)[DOI_PURPOSE].status == ConsentStatus.PENDING
    assert not has_consent(lead.pk, DOI_PURPOSE)
    assert has_consent(lead.pk, "contact")
    assert OutboxMessage.objects.filter(
        task="consent.tasks.send_confirmation_email_task",
        args=[confirmation.pk],
        dedupe_key=f"consent-confirmation:{confirmation.pk}",
    ).exists()


@pytest.mark.parametrize("method", [ConsentMethod.API, ConsentMethod.IMPORT])
def test_api_and_import_grants_wait_for_confirmation_too(purpose, lead, method):
    assert _web_form_grant(lead, DOI_PURPOSE, method=method) == []
    assert ConsentConfirmation.objects.get().method == method


@pytest.mark.parametrize(
    "method",
    [
        ConsentMethod.VERBAL,
        ConsentMethod.MANUAL,
        ConsentMethod.PREFERENCE_PAGE,
        ConsentMethod.DOUBLE_OPT_IN,
    ],
)
def test_other_methods_record_a_double_opt_in_purpose_at_once(purpose, lead, method):
    (record,) = _web_form_grant(lead, DOI_PURPOSE, method=method)

    assert record.granted and record.method == method
    assert not ConsentConfirmation.objects.exists()
    assert has_consent(lead.pk, DOI_PURPOSE)


def test_purposes_without_double_opt_in_record_at_once_as_before(lead):
    (record,) = _web_form_grant(lead, DOI_PURPOSE)

    assert record.granted and not ConsentConfirmation.objects.exists()


def test_the_email_carries_the_notice_the_links_and_one_click_headers(purpose, lead):
    confirmation = ask(lead.pk)

    message = send(confirmation)

    assert message.to == ["carla@example.nl"]
    assert purpose.name_en in message.subject
    assert purpose.current_notice().text_en in message.body
    assert link_in(message, "confirm")
    withdraw = link_in(message, "withdraw")
    assert link_in(message, "preferences")
    assert message.extra_headers["List-Unsubscribe"] == f"<http://127.0.0.1:8000{withdraw}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and withdraw in html
    confirmation.refresh_from_db()
    assert confirmation.sent_at is not None


def test_the_email_is_in_the_language_the_person_asked_in(purpose, lead):
    from django.utils import translation

    with translation.override("nl"):
        confirmation = ask(lead.pk)

    assert purpose.current_notice().text_nl in send(confirmation).body


def test_the_email_task_sends_once_however_often_it_runs(purpose, lead):
    confirmation = ask(lead.pk)

    assert send(confirmation) is not None
    assert send(confirmation) is None
    assert len(mail.outbox) == 1


def test_no_email_for_a_request_closed_before_it_went_out_or_a_lead_erased(purpose, lead):
    superseded, erased = ask(lead.pk), ask(LeadFactory().pk)
    ask(lead.pk)
    erased_lead_id = erased.subject_id
    from leads.models import Lead

    Lead.objects.filter(pk=erased_lead_id).delete()

    assert send(superseded) is None and send(erased) is None
    assert confirmations.send_confirmation_email(confirmation_id=999_999) is False


def test_confirming_writes_one_double_opt_in_record_with_the_notice_shown(purpose, lead):
    from consent.models import NoticeVersion

    confirmation = ask(lead.pk, evidence="submission:3")
    # The admin changes the wording before the person confirms: they agreed to version 1.
    NoticeVersion.objects.create(purpose=purpose, version=2, text_en="v2", text_nl="v2")

    outcome = confirmations.confirm(
        confirmation_token(confirmation.pk), ip_address="198.51.100.4", user_agent="Mail app"
    )

    assert outcome.result == confirmations.ConfirmResult.CONFIRMED
    record = ConsentRecord.objects.get()
    assert record == outcome.record
    assert (record.granted, record.method, record.notice.version) == (
        True,
        ConsentMethod.DOUBLE_OPT_IN,
        1,
    )
    assert record.evidence == f"confirmation:{confirmation.pk}"
    assert record.ip_address == "198.51.100.4"
    confirmation.refresh_from_db()
    assert confirmation.confirmed_at is not None and confirmation.record == record
    assert has_consent(lead.pk, DOI_PURPOSE)
    assert consent_state(lead.pk)[DOI_PURPOSE].status == ConsentStatus.GRANTED


def test_a_second_confirmation_changes_nothing(purpose, lead):
    token = confirmation_token(ask(lead.pk).pk)
    confirmations.confirm(token)

    outcome = confirmations.confirm(token)

    assert outcome.result == confirmations.ConfirmResult.ALREADY_CONFIRMED
    assert ConsentRecord.objects.count() == 1


def test_an_expired_request_cannot_be_confirmed_and_is_closed_at_night(purpose, lead):
    confirmation = ask(lead.pk)
    later = timezone.now() + timedelta(days=7, seconds=1)

    outcome = confirmations.confirm(confirmation_token(confirmation.pk), now=later)

    assert outcome.result == confirmations.ConfirmResult.EXPIRED
    assert not ConsentRecord.objects.exists()
    assert confirmations.expire_due(later) == 1
    confirmation.refresh_from_db()
    assert confirmation.closed_reason == ClosedReason.EXPIRED
    assert consent_state(lead.pk)[DOI_PURPOSE].status == ConsentStatus.NEVER
    assert expire_confirmations_task() == 0


def test_an_expired_request_is_no_longer_pending_even_before_the_nightly_run(purpose, lead):
    confirmation = ask(lead.pk)
    ConsentConfirmation.objects.filter(pk=confirmation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert consent_state(lead.pk)[DOI_PURPOSE].status == ConsentStatus.NEVER


def test_a_new_request_supersedes_the_open_one(purpose, lead):
    first = ask(lead.pk)
    second = ask(lead.pk)

    first.refresh_from_db()
    assert first.closed_reason == ClosedReason.SUPERSEDED
    outcome = confirmations.confirm(confirmation_token(first.pk))
    assert outcome.result == confirmations.ConfirmResult.CLOSED
    assert consent_state(lead.pk)[DOI_PURPOSE].confirmation == second


def test_resend_makes_a_new_link_for_the_same_request(purpose, lead):
    old = ask(lead.pk, evidence="submission:9", source="https://example.nl/f")
    send(old)

    new = confirmations.resend(confirmation_id=old.pk)

    old.refresh_from_db()
    assert old.closed_reason == ClosedReason.SUPERSEDED
    assert (new.notice, new.evidence, new.source) == (old.notice, "submission:9", old.source)
    assert new.sent_at is None
    assert send(new) is not None and len(mail.outbox) == 2


def test_resend_is_limited_to_a_few_links_a_day(purpose, lead):
    confirmation = ask(lead.pk)
    for _attempt in range(confirmations.LINKS_PER_DAY - 1):
        confirmation = confirmations.resend(confirmation_id=confirmation.pk)

    with pytest.raises(confirmations.ResendRefused, match="Too many"):
        confirmations.resend(confirmation_id=confirmation.pk)
    assert ConsentConfirmation.objects.count() == confirmations.LINKS_PER_DAY


def test_resend_refuses_a_confirmed_or_withdrawn_request(purpose, lead):
    confirmed = ask(lead.pk)
    confirmations.confirm(confirmation_token(confirmed.pk))
    withdrawn = ask(LeadFactory().pk)
    record_consents(
        subject_id=withdrawn.subject_id,
        given=[ConsentGiven(DOI_PURPOSE, False)],
        method=ConsentMethod.VERBAL,
    )

    with pytest.raises(confirmations.ResendRefused, match="confirmed already"):
        confirmations.resend(confirmation_id=confirmed.pk)
    with pytest.raises(confirmations.ResendRefused, match="withdrawn"):
        confirmations.resend(confirmation_id=withdrawn.pk)


def test_a_withdrawal_closes_the_open_request(purpose, lead):
    confirmation = ask(lead.pk)

    record_consents(
        subject_id=lead.pk, given=[ConsentGiven(DOI_PURPOSE, False)], method=ConsentMethod.API
    )

    confirmation.refresh_from_db()
    assert confirmation.closed_reason == ClosedReason.WITHDRAWN
    assert consent_state(lead.pk)[DOI_PURPOSE].status == ConsentStatus.WITHDRAWN
    assert send(confirmation) is None
    outcome = confirmations.confirm(confirmation_token(confirmation.pk))
    assert outcome.result == confirmations.ConfirmResult.CLOSED
    assert not has_consent(lead.pk, DOI_PURPOSE)


def test_a_grant_recorded_at_once_makes_the_open_request_moot(purpose, lead):
    confirmation = ask(lead.pk)

    _web_form_grant(lead, DOI_PURPOSE, method=ConsentMethod.VERBAL)

    confirmation.refresh_from_db()
    assert confirmation.closed_reason == ClosedReason.GRANTED


def test_a_new_request_while_granted_keeps_the_grant_standing(purpose, lead):
    _web_form_grant(lead, DOI_PURPOSE, method=ConsentMethod.VERBAL)

    _web_form_grant(lead, DOI_PURPOSE)

    state = consent_state(lead.pk)[DOI_PURPOSE]
    assert state.status == ConsentStatus.GRANTED and state.confirmation is not None


def test_request_confirmations_ignores_withdrawals_and_other_purposes(purpose, lead):
    result = confirmations.request_confirmations(
        subject_id=lead.pk,
        choices=[ConsentGiven("contact", True), ConsentGiven(DOI_PURPOSE, False)],
        method=ConsentMethod.WEB_FORM,
    )

    assert result == [] and not ConsentConfirmation.objects.exists()
    assert not ConsentRecord.objects.exists()


def test_request_confirmations_refuses_an_unknown_purpose(purpose, lead):
    with pytest.raises(UnknownPurpose):
        confirmations.request_confirmations(
            subject_id=lead.pk,
            choices=[ConsentGiven("nonsense", True), ConsentGiven(DOI_PURPOSE, True)],
            method=ConsentMethod.WEB_FORM,
        )

    assert not ConsentConfirmation.objects.exists()


def test_double_opt_in_keys_names_the_purposes_that_require_it(purpose):
    assert confirmations.double_opt_in_keys(["contact", DOI_PURPOSE, "nonsense"]) == {DOI_PURPOSE}
    assert confirmations.double_opt_in_keys([]) == set()


def test_a_merge_takes_the_open_request_to_the_survivor(purpose, lead):
    survivor = LeadFactory()
    older = ask(survivor.pk)
    newer = ask(lead.pk)

    move_subject(from_subject_id=lead.pk, to_subject_id=survivor.pk)

    newer.refresh_from_db()
    older.refresh_from_db()
    assert newer.subject_id == survivor.pk and newer.is_open
    assert older.closed_reason == ClosedReason.SUPERSEDED


def test_erasure_can_forget_the_requests(purpose, lead):
    ask(lead.pk)

    assert confirmations.forget_subject_confirmations(subject_id=lead.pk) == 1
    assert not ConsentConfirmation.objects.exists()


def test_a_withdrawal_written_past_the_services_still_wins_over_a_later_click(purpose, lead):
    # Capture's single statement writes records without calling record_consents.
    confirmation = ask(lead.pk)
    ConsentRecord.objects.create(
        subject_id=lead.pk, purpose=purpose, granted=False, method=ConsentMethod.API
    )

    assert consent_state(lead.pk)[DOI_PURPOSE].status == ConsentStatus.WITHDRAWN
    assert send(confirmation) is None
    outcome = confirmations.confirm(confirmation_token(confirmation.pk))
    assert outcome.result == confirmations.ConfirmResult.CLOSED
    assert not has_consent(lead.pk, DOI_PURPOSE)


def test_without_a_broker_the_email_goes_out_when_the_transaction_commits(
    purpose, lead, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True

    with django_capture_on_commit_callbacks(execute=True):
        _web_form_grant(lead, DOI_PURPOSE)

    (message,) = mail.outbox
    assert message.to == ["carla@example.nl"] and link_in(message, "confirm")
