"""The transactional outbox: request tasks with a change, publish them after it commits."""

import logging
import time
from collections.abc import Iterable

from celery import Celery, current_app
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from outbox.models import OutboxMessage

logger = logging.getLogger(__name__)
NOTIFY_CHANNEL = "leadladder_outbox"


def request_task(task: str, *args, dedupe_key: str = "") -> None:
    """Ask for `task(*args)` to run once the current transaction commits.

    Call it inside the transaction of the change that needs the task. With Redis the row
    waits for the relay; without Redis (eager mode) the task runs in-process on commit.
    """
    request_tasks([(task, list(args), dedupe_key)])


def request_tasks(requests: Iterable[tuple[str, list, str]]) -> None:
    """Several `request_task` calls in one insert: (task, args, dedupe key) each."""
    OutboxMessage.objects.bulk_create(
        [OutboxMessage(task=task, args=args, dedupe_key=key) for task, args, key in requests],
        # A pending row with the same key already asks for the same work.
        ignore_conflicts=True,
    )
    tasks_requested()


def tasks_requested() -> None:
    """Tell the outbox that rows were written (also by raw SQL) in the current transaction.

    With a broker the relay hears of them by NOTIFY and nothing is needed here; without one
    (eager mode) they run in-process once the transaction commits.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # robust: a failing in-process task must not turn a committed capture into an error.
        transaction.on_commit(publish_pending, robust=True)


def _registered_task(name: str):
    if name not in current_app.tasks:
        # Celery discovers the apps' tasks modules lazily, at worker start; a web process
        # running tasks in-process has to ask for them.
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def publish_pending(*, limit: int = 500, app: Celery | None = None) -> int:
    """Publish up to `limit` pending tasks to the broker; returns how many went out.

    Rows are claimed (marked published) and committed before anything is sent. Sending
    first would open a window in which a new request for the same work finds the row still
    pending, coalesces into it, and is lost once the row is marked: the worker may already
    have read the data without that change. SKIP LOCKED keeps two relays off the same rows.
    A row that could not be sent is put back as pending, with the error.
    """
    app = app or current_app
    with transaction.atomic():
        batch = list(
            OutboxMessage.objects.pending()
            .order_by("id")
            .select_for_update(skip_locked=True)[:limit]
        )
        OutboxMessage.objects.filter(pk__in=[message.pk for message in batch]).update(
            published_at=timezone.now()
        )
    published = 0
    for position, (task, args, messages) in enumerate(_sendings(batch)):
        try:
            if settings.CELERY_TASK_ALWAYS_EAGER:
                _registered_task(task).apply(args=args, throw=True)
            else:
                app.send_task(task, args=args)
        except (BrokerError, OSError) as error:
            logger.warning("outbox: broker unavailable, %s stays pending: %s", task, error)
            for _task, _args, unsent in list(_sendings(batch))[position:]:
                for message in unsent:
                    _put_back(message, error if message in messages else None)
            break
        except Exception as error:
            # In-process mode runs the task here; one failing task must not hold up the rest.
            logger.exception("outbox: %s failed in-process", task)
            for message in messages:
                _put_back(message, error)
            continue
        published += len(messages)
    return published


def _sendings(batch: list[OutboxMessage]) -> list[tuple[str, list, list[OutboxMessage]]]:
    """What to send for the claimed rows: one message per row, except that rows of a task
    with a batch form (settings.OUTBOX_BATCH_TASKS) travel as one message of that batch task,
    whose single argument is the list of the rows' arguments. A burst of events for many
    leads then costs the worker one task, not one per lead."""
    batch_of = settings.OUTBOX_BATCH_TASKS
    sendings: list[tuple[str, list, list[OutboxMessage]]] = []
    grouped: dict[str, list[OutboxMessage]] = {}
    for message in batch:
        if message.task in batch_of:
            grouped.setdefault(message.task, []).append(message)
        else:
            sendings.append((message.task, message.args, [message]))
    for task, messages in grouped.items():
        if len(messages) == 1:
            sendings.append((task, messages[0].args, messages))
        else:
            arguments = [arg for message in messages for arg in message.args]
            sendings.append((batch_of[task], [arguments], messages))
    return sendings


def _put_back(message: OutboxMessage, error: Exception | None) -> None:
    """Make a claimed row pending again, or drop it when a newer pending row asks the same."""
    changes = {"published_at": None}
    if error is not None:
        changes |= {"attempts": message.attempts + 1, "last_error": str(error)[:2000]}
    try:
        with transaction.atomic():
            OutboxMessage.objects.filter(pk=message.pk).update(**changes)
    except IntegrityError:
        OutboxMessage.objects.filter(pk=message.pk).delete()


def purge_published(*, older_than_days: int = 7) -> int:
    """Delete published rows after a week; they only serve debugging by then."""
    moment = timezone.now() - timezone.timedelta(days=older_than_days)
    deleted, _ = OutboxMessage.objects.published_before(moment).delete()
    return deleted


def relay_forever(*, idle_seconds: float = 1.0, stop=lambda: False) -> None:
    """Publish pending tasks as soon as they commit, until `stop()` says so.

    On PostgreSQL an insert trigger sends NOTIFY at commit, so the relay wakes within
    milliseconds; elsewhere it polls every `idle_seconds`.
    """
    listening = connection.vendor == "postgresql"
    if listening:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
    while not stop():
        try:
            while publish_pending() and not stop():
                pass
        except Exception:
            logger.exception("outbox relay: publishing failed; retrying")
        if listening:
            # Wake at the first NOTIFY (or after idle_seconds), then drain the rest: one
            # publish round serves every notification that arrived meanwhile.
            raw = connection.connection
            for _notification in raw.notifies(timeout=idle_seconds, stop_after=1):
                pass
            for _notification in raw.notifies(timeout=0):
                pass
        else:
            time.sleep(idle_seconds)
