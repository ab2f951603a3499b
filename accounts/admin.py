from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import AccountEvent, User


@admin.register(User)
class LeadladderUserAdmin(UserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_active", "is_staff"]
    # The e-mail address is required and unique: without it on the add form, the first user
    # added here gets "" and the second fails with an IntegrityError instead of a form error.
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )


@admin.register(AccountEvent)
class AccountEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "user", "kind", "actor"]
    list_filter = ["kind"]

    # The audit trail is append-only and written by the services, never by hand.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
