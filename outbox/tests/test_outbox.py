import threading

import pytest
from celery import Celery, shared_task
from django.db import transaction

from accounts.models import User
from accounts.tests.factories import UserFactory
from outbox.models import OutboxMessage
from outbox.services import publish_pending, request_task

pytestmark = pytest.mark.django_db


def test_a_task_requested_in_a_rolled_back_transaction_is_never_sent():
    with transaction.atomic():
        request_task("accounts.tasks.send_invitation_task", 1)
        transaction.set_rollback(True)

    assert OutboxMessage.objects.count() == 0


def test_pending_requests_with_the_same_key_coalesce_into_one():
    with transaction.atomic():
        for _ in range(100):
            request_task("accounts.tasks.send_invitation_task", 7, dedupe_key="invite:7")
        request_task("accounts.tasks.send_invitation_task", 8, dedupe_key="invite:8")

    assert OutboxMessage.objects.pending().count() == 2


def test_a_published_request_does_not_absorb_the_next_one(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with transaction.atomic():
        request_task("outbox.tasks.purge_published_outbox_task", dedupe_key="relay")
    publish_pending()
    with transaction.atomic():
        request_task("outbox.tasks.purge_published_outbox_task", dedupe_key="relay")

    assert OutboxMessage.objects.count() == 2
    assert OutboxMessage.objects.pending().count() == 1


def test_in_eager_mode_the_task_runs_in_process_after_commit(
    settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    user = UserFactory(username="eve")
    User.objects.filter(pk=user.pk).update(invitation_requested_at="2026-01-01T00:00:00Z")

    with django_capture_on_commit_callbacks(execute=True):
        request_task("accounts.tasks.send_invitation_task", user.pk)

    user.refresh_from_db()
    assert user.invitation_sent_at is not None
    assert OutboxMessage.objects.pending().count() == 0


def test_a_dead_broker_leaves_the_request_pending_with_the_error(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    with transaction.atomic():
        request_task("outbox.tasks.purge_published_outbox_task")
    dead_broker = Celery(broker="redis://127.0.0.1:1/0", set_as_current=False)
    dead_broker.conf.broker_connection_timeout = 1
    dead_broker.conf.broker_transport_options = {"max_retries": 1, "socket_connect_timeout": 1}
    dead_broker.conf.task_publish_retry_policy = {"max_retries": 0}

    published = publish_pending(app=dead_broker)

    message = OutboxMessage.objects.get()
    assert published == 0
    assert message.published_at is None
    assert message.attempts == 1 and message.last_error


def test_two_relays_at_once_never_publish_the_same_row_twice(transactional_db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    OutboxMessage.objects.bulk_create(
        OutboxMessage(task="outbox.tasks.purge_published_outbox_task", dedupe_key=f"k{n}")
        for n in range(40)
    )
    counts = []

    def relay():
        from django.db import connection

        counts.append(publish_pending(limit=40))
        connection.close()

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 40
    assert OutboxMessage.objects.pending().count() == 0


@shared_task(name="outbox.tests.request_again")
def request_again_task(key: str) -> None:
    # Stands for a capture that commits while the relay is sending the earlier request.
    with transaction.atomic():
        request_task("outbox.tasks.purge_published_outbox_task", dedupe_key=key)


def test_a_request_made_while_the_relay_sends_the_same_work_is_not_lost(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    OutboxMessage.objects.create(task="outbox.tests.request_again", args=["rescore:1"],
                                 dedupe_key="rescore:1")  # fmt: skip

    publish_pending()

    pending = OutboxMessage.objects.pending()
    assert pending.count() == 1
    assert pending.get().task == "outbox.tasks.purge_published_outbox_task"


def test_a_task_failing_in_process_is_put_back_and_does_not_hold_up_the_others(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    failing = OutboxMessage.objects.create(task="outbox.tests.fail", args=[])
    OutboxMessage.objects.create(task="outbox.tasks.purge_published_outbox_task", args=[])

    assert publish_pending() == 1

    failing.refresh_from_db()
    assert failing.published_at is None
    assert failing.attempts == 1 and "boom" in failing.last_error


@shared_task(name="outbox.tests.fail")
def failing_task() -> None:
    raise RuntimeError("boom")


RECEIVED: list = []


@shared_task(name="outbox.tests.one")
def one_task(number: int) -> None:
    RECEIVED.append(("one", number))


@shared_task(name="outbox.tests.many")
def many_task(numbers: list[int]) -> None:
    RECEIVED.append(("many", sorted(numbers)))


def test_requests_of_a_task_with_a_batch_form_travel_as_one_batch(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.OUTBOX_BATCH_TASKS = {"outbox.tests.one": "outbox.tests.many"}
    RECEIVED.clear()
    for number in (3, 1, 2):
        OutboxMessage.objects.create(task="outbox.tests.one", args=[number])
    OutboxMessage.objects.create(task="outbox.tasks.purge_published_outbox_task", args=[])

    assert publish_pending() == 4

    assert RECEIVED == [("many", [1, 2, 3])]
    assert OutboxMessage.objects.pending().count() == 0


def test_a_lone_request_of_a_batchable_task_is_sent_as_itself(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.OUTBOX_BATCH_TASKS = {"outbox.tests.one": "outbox.tests.many"}
    RECEIVED.clear()
    OutboxMessage.objects.create(task="outbox.tests.one", args=[7])

    assert publish_pending() == 1
    assert RECEIVED == [("one", 7)]


def test_a_batch_the_broker_refuses_stays_pending_row_by_row(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.OUTBOX_BATCH_TASKS = {"outbox.tests.one": "outbox.tests.many"}
    for number in (1, 2):
        OutboxMessage.objects.create(task="outbox.tests.one", args=[number])
    dead_broker = Celery(broker="redis://127.0.0.1:1/0", set_as_current=False)
    dead_broker.conf.broker_connection_timeout = 1
    dead_broker.conf.broker_transport_options = {"max_retries": 1, "socket_connect_timeout": 1}
    dead_broker.conf.task_publish_retry_policy = {"max_retries": 0}

    assert publish_pending(app=dead_broker) == 0
    assert OutboxMessage.objects.pending().count() == 2
    assert all(message.attempts == 1 for message in OutboxMessage.objects.all())
