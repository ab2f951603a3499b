from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.roles import ROLE_PRECEDENCE, Role


class User(AbstractUser):
    """A person who logs in to Leadladder: a marketer, sales rep, sales manager or admin."""

    email = models.EmailField(_("e-mail address"), unique=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("The language of e-mails to this user."),
    )
    invitation_requested_at = models.DateTimeField(_("invitation requested"), null=True, blank=True)
    invitation_sent_at = models.DateTimeField(_("invitation sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        permissions = [("manage_users", _("Can manage users and their roles"))]

    @cached_property
    def roles(self) -> list[Role]:
        names = {group.name for group in self.groups.all()}
        return [role for role in ROLE_PRECEDENCE if role in names]

    @property
    def main_role(self) -> Role | None:
        roles = self.roles
        return roles[0] if roles else None

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def invitation_pending(self) -> bool:
        if self.invitation_requested_at is None:
            return False
        return self.invitation_sent_at is None or self.invitation_sent_at < (
            self.invitation_requested_at
        )


class AccountEvent(models.Model):
    """Append-only audit trail of what happened to a user account, and who did it."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        ROLES_CHANGED = "roles_changed", _("Roles changed")
        DEACTIVATED = "deactivated", _("Deactivated")
        REACTIVATED = "reactivated", _("Reactivated")
        INVITATION_REQUESTED = "invitation_requested", _("Invitation requested")
        INVITATION_SENT = "invitation_sent", _("Invitation sent")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="account_events")
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    detail = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("account event")
        verbose_name_plural = _("account events")

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.occurred_at:%Y-%m-%d %H:%M}"
