from celery import shared_task

from api.idempotency import purge_expired_keys


@shared_task
def purge_expired_idempotency_keys_task() -> int:
    return purge_expired_keys()
