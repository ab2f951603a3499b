from django.contrib import admin

from webforms.forms import WebFormForm
from webforms.models import BlockedSubmission, WebForm


@admin.register(WebForm)
class WebFormAdmin(admin.ModelAdmin):
    # The same validation as our own pages: origins end up in a response header.
    form = WebFormForm
    list_display = ["name", "slug", "is_active", "updated_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at", "updated_at", "created_by"]


@admin.register(BlockedSubmission)
class BlockedSubmissionAdmin(admin.ModelAdmin):
    list_display = ["web_form", "reason", "ip_address", "blocked_at"]
    list_filter = ["reason"]
    readonly_fields = ["web_form", "reason", "ip_address", "user_agent", "blocked_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
