from celery import shared_task
from django.db import transaction


@shared_task
def request_confirmation_task(
    subject_id: int,
    purpose_key: str,
    notice_id: int | None,
    method: str,
    source: str,
    ip_address: str | None,
    user_agent: str,
    evidence: str,
    recorded_by_id: int | None,
) -> None:
    """A capture's grant of a purpose that needs double opt-in: ask the person to confirm.

    The capture statement requests this through the outbox instead of recording the grant.
    A second run for the same capture (same evidence) asks nothing again.
    """
    from consent.confirmation import request_confirmations
    from consent.models import ConsentConfirmation
    from consent.services import ConsentGiven
    from leads.models import Lead

    with transaction.atomic():
        # The lead may have been erased meanwhile; then nobody is left to ask.
        if not Lead.objects.filter(pk=subject_id).select_for_update().exists():
            return
        asked = ConsentConfirmation.objects.filter(
            subject_id=subject_id, purpose__key=purpose_key, evidence=evidence
        )
        if asked.exists():
            return
        request_confirmations(
            subject_id=subject_id,
            choices=[ConsentGiven(purpose_key, True, notice_id)],
            method=method,
            source=source,
            ip_address=ip_address,
            user_agent=user_agent,
            evidence=evidence,
            recorded_by=recorded_by_id and _user(recorded_by_id),
        )


def _user(pk: int):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=pk).first()
