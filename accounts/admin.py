from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import AccountEvent, User


@admin.register(User)
class LeadladderUserAdmin(UserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_active", "is_staff"]


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "user", "kind", "actor"]
    list_filter = ["kind"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
