from celery import shared_task

from scoring import services


@shared_task
def rescore_lead_task(lead_id: int) -> None:
    services.rescore_lead(lead_id=lead_id)
