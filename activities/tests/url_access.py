"""What every persona gets from a GET of the work panel's and pipeline's pages (see
tests/access.py)."""

from datetime import timedelta

from django.utils import timezone

from activities.models import Task
from leads.models import Stage
from leads.tests.factories import LeadFactory
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect


def _lead() -> dict:
    return {"pk": LeadFactory(stage=Stage.MQL).pk}


def _log_call() -> dict:
    return _lead() | {"kind": "call"}


def _accept() -> dict:
    return _lead() | {"action": "accept"}


def _task() -> dict:
    lead = LeadFactory(stage=Stage.SQL)
    task = Task.objects.create(lead=lead, title="Bel terug", due_at=timezone.now() + timedelta(1))
    return {"pk": task.pk}


# Sales work (leads.work_sales_queue): reps, managers and admins; marketers read the history
# on the lead page but log nothing and move no stage.
_SALES = expect(anonymous=LOGIN, users=OK, marketer=FORBIDDEN, no_role_user=FORBIDDEN)

ROWS: dict[str, Row] = {
    # The panel alone (what a cancelled form swaps back): everyone who reads leads.
    "activities:panel": Row(
        expect(anonymous=LOGIN, users=OK, no_role_user=FORBIDDEN), kwargs=_lead
    ),
    "activities:log": Row(_SALES, kwargs=_log_call),
    "activities:add-task": Row(_SALES, kwargs=_lead),
    # Admins may make every move; reps and managers own acceptance by default.
    "activities:move": Row(_SALES, kwargs=_accept),
    "activities:task-done": Row(
        expect(anonymous=LOGIN, users=NOT_ALLOWED, marketer=FORBIDDEN, no_role_user=FORBIDDEN),
        kwargs=_task,
    ),
    "funnel:pipeline": Row(_SALES),
}
