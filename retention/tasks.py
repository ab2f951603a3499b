from celery import shared_task

from retention import services
from retention.models import RetentionRun


@shared_task
def apply_retention_task(run_id: int | None = None) -> int:
    """Erase what the retention policies say has expired; returns how many leads were erased.

    Nightly (Celery beat) without arguments; with the id of the run an admin started from
    the retention page. A run that no longer exists has nothing left to do.
    """
    if run_id is None:
        return services.apply_retention().erased
    run = RetentionRun.objects.filter(pk=run_id).first()
    if run is None:
        return 0
    return services.apply_retention(run=run).erased
