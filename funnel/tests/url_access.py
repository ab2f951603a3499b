"""What every persona gets from a GET of the funnel dashboard's pages (see tests/access.py).
funnel:pipeline and funnel:quota are declared by their own apps' engineers."""

from tests.access import FORBIDDEN, LOGIN, OK, Row, expect

# Marketers and sales managers read the funnel (funnel.view_dashboard), admins too; reps
# and users without a role get 403.
_READERS = expect(anonymous=LOGIN, users=FORBIDDEN, marketer=OK, sales_manager=OK, admin_user=OK)

ROWS: dict[str, Row] = {
    "funnel:dashboard": Row(_READERS),
    # Without ?table= there is nothing to download: 404 for readers.
    "funnel:dashboard-csv": Row(
        expect(anonymous=LOGIN, users=FORBIDDEN, marketer=404, sales_manager=404, admin_user=404)
    ),
    "funnel:dashboard-sla": Row(_READERS),
}
