"""The privacy card on the lead page: export the person's data, erase the person."""

from django import template

from leads.models import Lead

register = template.Library()


@register.inclusion_tag("privacy/privacy_panel.html", takes_context=True)
def privacy_panel(context: template.Context, lead: Lead) -> dict:
    """Buttons for the people allowed to use them (admins); a line for everyone else."""
    user = context["request"].user
    return {
        "lead": lead,
        "can_export": user.has_perm("privacy.export_subject"),
        "can_erase": user.has_perm("privacy.erase_subject"),
        "csrf_token": context.get("csrf_token"),
    }
