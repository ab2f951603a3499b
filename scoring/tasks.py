import logging
from concurrent.futures import ThreadPoolExecutor

from celery import shared_task
from django.conf import settings
from django.db import connection

from scoring import services

logger = logging.getLogger(__name__)


@shared_task
def rescore_lead_task(lead_id: int) -> None:
    services.rescore_lead(lead_id=lead_id)


@shared_task
def rescore_all_task(run_id: int) -> None:
    """Score every lead for a re-score run, chunk by chunk, on RESCORE_CONNECTIONS database
    connections at once; safe to run twice or to resume."""
    services.prepare_rescore(run_id=run_id)
    connections = settings.RESCORE_CONNECTIONS
    # Inside a transaction (tests, an eager task in a request) other connections would not
    # see its rows; SQLite writes one at a time anyway.
    if connections <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        _work_run(run_id, close=False)
        return
    with ThreadPoolExecutor(max_workers=connections) as pool:
        futures = [pool.submit(_work_run, run_id) for _ in range(connections)]
    failures = [error for future in futures if (error := future.exception()) is not None]
    for error in failures[1:]:
        logger.error("re-score run %s: a connection failed too", run_id, exc_info=error)
    if failures:
        # The failed ranges are back at the front of the run: running the task again (or
        # publishing again) goes on from there.
        raise failures[0]


def _work_run(run_id: int, *, close: bool = True) -> None:
    try:
        while services.rescore_chunk(run_id=run_id):
            pass
    finally:
        if close:  # the thread's own connection
            connection.close()


@shared_task
def rescore_fading_task() -> int:
    """Nightly (Celery beat): let engagement points fade."""
    return services.rescore_fading()


@shared_task
def rescore_leads_task(lead_ids: list[int]) -> None:
    """Re-score several leads at once: the outbox relay's batch form of rescore_lead_task."""
    services.rescore_many(lead_ids=lead_ids)


@shared_task
def preview_impact_task(preview_id: int) -> None:
    """Work out a draft's impact preview too big for a page request."""
    from scoring.preview import work_out_preview

    work_out_preview(preview_id=preview_id)
