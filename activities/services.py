"""Working a lead: logging contacts, keeping tasks, and who may move its stage.

Anyone who works the sales queue may log contacts and plan tasks on any lead (colleagues
help each other out). Moving the stage is the owner's call, or a sales manager's (whoever
may assign leads). Accepting an unowned MQL makes the accepting person its owner in the
same transaction: an SQL without owner would be nobody's work. The move itself goes through
scoring.services.transition, whose row is the history of the move."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from activities.models import Activity, ActivityKind, Outcome, Task
from leads.models import Lead, Stage
from leads.services.assignment import assign_owner
from scoring.models import StageTransition
from scoring.services import transition

# Who may move any lead's stage, not just their own: sales managers and admins.
MANAGE_PERMISSION = "leads.assign_leads"

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


class MoveRefused(Exception):
    """This person may not move this lead's stage (someone else owns it); nothing changed."""


def claims_on_move(lead: Lead, from_stage: str, to_stage: str) -> bool:
    """Whether this move makes its actor the owner: accepting an MQL nobody owns."""
    return (
        lead.owner_id is None
        and lead.stage == Stage.MQL
        and from_stage == Stage.MQL
        and to_stage == Stage.SQL
    )


def may_move(lead: Lead, user, *, from_stage: str, to_stage: str) -> bool:
    """Whether `user` may make this stage move on `lead` as far as ownership goes (the sales
    permission and the stage policy are checked elsewhere): its owner, a manager, or anyone
    accepting an MQL nobody owns (which claims it)."""
    if user is None or not user.is_authenticated:
        return False
    if lead.owner_id is not None and lead.owner_id == user.pk:
        return True
    if user.has_perm(MANAGE_PERMISSION):
        return True
    return claims_on_move(lead, from_stage, to_stage)


def refusal_message(lead: Lead) -> str:
    if lead.owner_id is None:
        return _("Only a sales manager can move this lead: nobody owns it. Claim it first.")
    owner = lead.owner
    return _("%(name)s owns this lead: only they or a sales manager can move it.") % {
        "name": owner.get_full_name() or owner.get_username()
    }


def move_lead(
    *,
    lead_id: int,
    from_stage: str,
    to_stage: str,
    actor,
    reason: str = "",
    details: dict | None = None,
) -> StageTransition:
    """Move the lead's stage from `from_stage` (the stage the actor saw) to `to_stage`, as
    its owner or a manager; accepting an unowned MQL claims it first, in the same
    transaction, so a refused move leaves it unowned. Raises MoveRefused (not theirs) or
    scoring's Transition* errors; either way nothing changed."""
    with transaction.atomic():
        # Locked, so the owner checked is the owner at the move (the queue's automatic
        # assignment or a colleague's claim wait, or we wait for them).
        lead = Lead.objects.active().select_for_update().filter(pk=lead_id).first()
        # A lead no longer in `from_stage` is left to transition, which tells the conflict.
        if lead is not None and lead.stage == from_stage:
            if not may_move(lead, actor, from_stage=from_stage, to_stage=to_stage):
                raise MoveRefused(refusal_message(lead))
            if claims_on_move(lead, from_stage, to_stage):
                assign_owner(
                    leads=[lead], owner=actor, actor=actor, reason=_("Accepted from the lead page")
                )
        # A lead gone meanwhile: transition says so.
        return transition(
            lead_id=lead_id,
            to_stage=to_stage,
            actor=actor,
            reason=reason,
            expected_stage=from_stage,
            details=details,
        )


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
