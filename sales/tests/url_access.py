"""What every persona gets from a GET of the sales workspace (see tests/access.py)."""

from leads.models import Stage
from leads.tests.factories import LeadFactory
from sales.models import AssignmentRule, SalesTeam
from tests.access import FORBIDDEN, LOGIN, NOT_ALLOWED, OK, Row, expect


def _mql() -> dict:
    return {"pk": LeadFactory(stage=Stage.MQL).pk}


def _team() -> dict:
    return {"pk": SalesTeam.objects.create(name="Benelux").pk}


def _rule() -> dict:
    team = SalesTeam.objects.create(name="Benelux")
    return {"pk": AssignmentRule.objects.create(team=team, position=1).pk}


# Whoever works the queue (leads.work_sales_queue): reps, managers, admins.
_SALES = expect(anonymous=LOGIN, users=FORBIDDEN, sales_rep=OK, sales_manager=OK, admin_user=OK)
_SALES_POST = expect(
    anonymous=LOGIN,
    users=FORBIDDEN,
    sales_rep=NOT_ALLOWED,
    sales_manager=NOT_ALLOWED,
    admin_user=NOT_ALLOWED,
)
# Rules, teams and SLA breaches: managers and admins.
_MANAGERS = expect(anonymous=LOGIN, users=FORBIDDEN, sales_manager=OK, admin_user=OK)
_MANAGERS_POST = expect(
    anonymous=LOGIN, users=FORBIDDEN, sales_manager=NOT_ALLOWED, admin_user=NOT_ALLOWED
)

ROWS: dict[str, Row] = {
    "leads:queue": Row(_SALES),
    "leads:my-leads": Row(_SALES),
    "sales:explain": Row(_SALES, kwargs=_mql),
    "sales:claim": Row(_SALES_POST, kwargs=_mql),
    "sales:away": Row(_SALES_POST),
    "sales:assign-now": Row(_MANAGERS_POST),
    "sales:rules": Row(_MANAGERS),
    "sales:rule-create": Row(_MANAGERS),
    "sales:rule-edit": Row(_MANAGERS, kwargs=_rule),
    "sales:rule-delete": Row(_MANAGERS_POST, kwargs=_rule),
    "sales:rule-move": Row(_MANAGERS_POST, kwargs=_rule),
    "sales:teams": Row(_MANAGERS),
    "sales:team-create": Row(_MANAGERS),
    "sales:team-edit": Row(_MANAGERS, kwargs=_team),
    "sales:breaches": Row(_MANAGERS),
}
