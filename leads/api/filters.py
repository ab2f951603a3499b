"""The filters of the API's lead list, each one a condition an index serves."""

from typing import Any

from django.db.models import QuerySet

from leads.models import Lead
from leads.normalise import normalise_email


def filter_leads(leads: QuerySet[Lead], params: dict[str, Any]) -> QuerySet[Lead]:
    """`leads` narrowed by the validated query parameters of LeadListQuerySerializer."""
    if params.get("stage"):
        leads = leads.in_stage(*sorted(params["stage"]))
    if "source" in params:
        leads = leads.filter(source=params["source"])
    if "campaign" in params:
        leads = leads.filter(campaign=params["campaign"])
    if "owner" in params:
        leads = leads.filter(owner_id=params["owner"])
    if "score_min" in params:
        leads = leads.filter(score__gte=params["score_min"])
    if "score_max" in params:
        leads = leads.filter(score__lte=params["score_max"])
    # Ranges on the column itself, never `created_at__date`, which would leave its index unused.
    if "created_after" in params:
        leads = leads.filter(created_at__gte=params["created_after"])
    if "created_before" in params:
        leads = leads.filter(created_at__lt=params["created_before"])
    if params.get("email"):
        leads = leads.filter(email=normalise_email(params["email"]))
    if params.get("q"):
        # Addresses are stored lower-case, so a plain prefix match is case-insensitive. With a
        # varchar_pattern_ops index on email it is one index range scan in any collation.
        leads = leads.filter(email__startswith=normalise_email(params["q"]))
    return leads
