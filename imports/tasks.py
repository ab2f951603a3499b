from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from imports import services
from imports.models import STALE_AFTER

# How long a busy job is left to the worker holding it before looking again. If that worker
# died, its heartbeat is stale by then and this task takes the job over.
BUSY_RETRY_SECONDS = int(STALE_AFTER.total_seconds()) + 10


@shared_task(acks_late=True)
def preview_import_task(job_id: int) -> None:
    services.preview_import(job_id=job_id)


@shared_task(bind=True, acks_late=True, max_retries=60)
def run_import_task(self, job_id: int) -> str:
    try:
        outcome = services.run_import(job_id=job_id)
    except SoftTimeLimitExceeded:
        # The service handed the job back; a fresh run resumes after the last batch.
        raise self.retry(countdown=0) from None
    if outcome is services.RunOutcome.BUSY and not self.request.is_eager:
        raise self.retry(countdown=BUSY_RETRY_SECONDS)
    return outcome.value
