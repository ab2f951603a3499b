"""Working a lead: logging contacts and keeping tasks. Stage moves are not here: they go
through scoring.services.transition, whose row is the history of the move."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from activities.models import Activity, ActivityKind, Outcome, Task
from leads.models import Lead

# Which outcomes make sense for which kind of contact; the form offers only these.
OUTCOMES_BY_KIND: dict[str, list[str]] = {
    ActivityKind.CALL: [
        Outcome.REACHED,
        Outcome.NO_ANSWER,
        Outcome.VOICEMAIL,
        Outcome.MEETING_BOOKED,
        Outcome.NOT_INTERESTED,
        Outcome.OTHER,
    ],
    ActivityKind.EMAIL: [
        Outcome.SENT,
        Outcome.REACHED,
        Outcome.MEETING_BOOKED,
        Outcome.NOT_INTERESTED,
        Outcome.OTHER,
    ],
    ActivityKind.MEETING: [
        Outcome.HELD,
        Outcome.MEETING_BOOKED,
        Outcome.NOT_INTERESTED,
        Outcome.OTHER,
    ],
}


class ActivityRefused(Exception):
    """The activity or task cannot be recorded; the message says why."""


def _live_lead_id(lead_id: int) -> int:
    if not Lead.objects.active().filter(pk=lead_id).exists():
        raise ActivityRefused(_("This lead does not exist (any more) or was merged."))
    return lead_id


def _touch(lead_id: int, when: datetime) -> None:
    # Retention and stage ageing read last_activity_at. One UPDATE, never backwards: an
    # activity logged after the fact must not make the lead look idle for longer.
    Lead.objects.filter(pk=lead_id).update(
        last_activity_at=Greatest(Coalesce("last_activity_at", Value(when)), Value(when))
    )


def log_activity(
    *,
    lead_id: int,
    kind: ActivityKind | str,
    outcome: Outcome | str,
    actor,
    notes: str = "",
    occurred_at: datetime | None = None,
) -> Activity:
    """Record a call, e-mail or meeting with the lead, made by `actor`, and mark the lead as
    active then. The first one after a hand-over stops the SLA clock."""
    kind = ActivityKind(kind)
    outcome = Outcome(outcome)
    if outcome not in OUTCOMES_BY_KIND[kind]:
        raise ActivityRefused(
            _("%(outcome)s is not an outcome of a %(kind)s.")
            % {"outcome": outcome.label, "kind": kind.label}
        )
    occurred_at = occurred_at or timezone.now()
    with transaction.atomic():
        activity = Activity.objects.create(
            lead_id=_live_lead_id(lead_id),
            kind=kind,
            outcome=outcome,
            notes=notes.strip(),
            occurred_at=occurred_at,
            actor=actor,
        )
        _touch(lead_id, min(occurred_at, timezone.now()))
    return activity


def add_task(*, lead_id: int, title: str, due_at: datetime, assignee, created_by) -> Task:
    """Plan something to do for the lead by `due_at`, for `assignee`."""
    title = title.strip()
    if not title:
        raise ActivityRefused(_("Say what is to be done."))
    with transaction.atomic():
        task = Task.objects.create(
            lead_id=_live_lead_id(lead_id),
            title=title,
            due_at=due_at,
            assignee=assignee,
            created_by=created_by,
        )
        _touch(lead_id, timezone.now())
    return task


def complete_task(*, task_id: int, actor) -> Task:
    """Mark a task done. Done twice (two tabs, a double click) keeps the first time."""
    with transaction.atomic():
        task = Task.objects.select_for_update().filter(pk=task_id).first()
        if task is None:
            raise ActivityRefused(_("This task does not exist (any more)."))
        if task.done_at is None:
            task.done_at = timezone.now()
            task.done_by = actor
            task.save(update_fields=["done_at", "done_by"])
            _touch(task.lead_id, task.done_at)
    return task
