from celery import shared_task

from consent import confirmation


@shared_task
def send_confirmation_email_task(confirmation_id: int) -> bool:
    """Send a double opt-in e-mail; sends once, however often it runs (see the service)."""
    return confirmation.send_confirmation_email(confirmation_id=confirmation_id)


@shared_task
def expire_confirmations_task() -> int:
    """Nightly (Celery beat): close the requests nobody confirmed in time."""
    return confirmation.expire_due()
