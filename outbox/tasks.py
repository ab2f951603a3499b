from celery import shared_task

from outbox import services


@shared_task
def relay_outbox_task() -> int:
    """Beat's safety net: publishes whatever the relay process has not (yet)."""
    return services.publish_pending()


@shared_task
def purge_published_outbox_task() -> int:
    return services.purge_published()
