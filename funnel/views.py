from django.shortcuts import render

from accounts.models import User
from accounts.roles import Role
from funnel.queries import stage_counts
from leads.models import Lead, Stage


def home(request):
    """The start page. Each role sees the panels of its own work."""
    user = request.user
    context: dict = {"role": user.main_role}
    if user.has_perm("leads.view_lead"):
        context["stage_counts"] = stage_counts()
        context["recent_leads"] = Lead.objects.active().order_by("-created_at", "-id")[:8]
    if user.has_perm("leads.work_sales_queue"):
        context["my_open_leads"] = (
            Lead.objects.active()
            .owned_by(user)
            .in_stage(Stage.MQL, Stage.SQL, Stage.OPPORTUNITY)
            .order_by("-score", "-id")[:8]
        )
        context["unclaimed_mql_count"] = (
            Lead.objects.active().in_stage(Stage.MQL).filter(owner__isnull=True).count()
        )
    if user.has_perm("accounts.manage_users"):
        context["user_counts"] = {
            role.label: User.objects.filter(groups__name=role, is_active=True).count()
            for role in Role
        }
    return render(request, "funnel/home.html", context)
