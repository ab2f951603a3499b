"""The "Work this lead" panel on the lead page: log contacts, keep tasks, move the stage."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils import timezone

from activities.forms import LOG_LABELS, STAGE_ACTIONS, StageAction
from activities.models import Activity, ActivityKind, Task
from activities.services import may_move
from leads.models import Lead
from scoring.models import CriteriaVersion
from scoring.services import TransitionForbidden, check_actor, stage_owners

register = template.Library()

# The panel shows the latest contacts; older ones are rarely needed while working a lead.
ACTIVITY_LIMIT = 20
WORK_PERMISSION = "leads.work_sales_queue"


def available_actions(
    stage: str, user, owners: dict | None = None, *, lead: Lead | None = None
) -> list[StageAction]:
    """The stage moves this user may make on a lead in `stage`: by the sales permission and
    the stage policy of the criteria version in force (`owners`, when already read), and,
    given the `lead`, by who owns it (activities.services.may_move)."""
    if user is None or not user.has_perm(WORK_PERMISSION):
        return []
    candidates = [action for action in STAGE_ACTIONS.values() if action.from_stage == stage]
    if not candidates:
        return []
    if owners is None:
        owners = stage_owners(CriteriaVersion.objects.active(), timezone.localdate())
    allowed = []
    for action in candidates:
        try:
            check_actor(user, action.from_stage, action.to_stage, owners)
        except TransitionForbidden:
            continue
        if lead is not None and not may_move(
            lead, user, from_stage=action.from_stage, to_stage=action.to_stage
        ):
            continue
        allowed.append(action)
    return allowed


def panel_context(
    lead: Lead,
    *,
    user=None,
    note: str = "",
    error: str = "",
    open_form: dict | None = None,
) -> dict:
    """What activities/work_panel.html shows: the latest contacts (newest first), the open
    tasks, and for sales the buttons to log, plan and move; `open_form` is a form shown
    opened (with its errors)."""
    activities = list(
        Activity.objects.for_lead(lead.pk).select_related("actor")[: ACTIVITY_LIMIT + 1]
    )
    can_work = bool(user is not None and user.has_perm(WORK_PERMISSION))
    return {
        "lead": lead,
        "activities": activities[:ACTIVITY_LIMIT],
        "activities_cut": len(activities) > ACTIVITY_LIMIT,
        "tasks": list(Task.objects.for_lead(lead.pk).open().select_related("assignee")),
        "now": timezone.now(),
        "can_work": can_work,
        "log_actions": [
            (kind, label, reverse("activities:log", args=[lead.pk, kind]))
            for kind, label in LOG_LABELS.items()
        ]
        if can_work
        else [],
        "task_url": reverse("activities:add-task", args=[lead.pk]),
        "panel_url": reverse("activities:panel", args=[lead.pk]),
        "stage_actions": [
            (action, reverse("activities:move", args=[lead.pk, action.name]))
            for action in available_actions(lead.stage, user, lead=lead)
        ],
        "note": note,
        "error": error,
        "open_form": open_form,
        "kinds": dict(ActivityKind.choices),
    }


@register.inclusion_tag("activities/work_panel.html", takes_context=True)
def work_panel(context: template.Context, lead: Lead) -> dict:
    return panel_context(lead, user=context.get("user")) | {
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }
