"""Use cases that change user accounts. Each writes its AccountEvent in the same transaction."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import AccountEvent, User
from accounts.roles import Role


def _checked_roles(roles: list[str]) -> list[str]:
    """The roles sorted and without repeats; an unknown role is an error, not silently dropped."""
    unknown = sorted(set(roles) - set(Role.values))
    if unknown:
        raise ValueError(f"Unknown roles: {', '.join(unknown)}")
    return sorted({str(role) for role in roles})


def _set_roles(user: User, roles: list[str]) -> None:
    user.groups.set(Group.objects.filter(name__in=roles))
    # `User.roles` is cached on the instance; forget it so the caller sees the new roles.
    user.__dict__.pop("roles", None)


@transaction.atomic
def create_user(
    *,
    actor: User | None,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    roles: list[str],
    language: str | None = None,
    send_invitation: bool = True,
) -> User:
    """Create a user without a usable password and invite them to choose one by e-mail."""
    roles = _checked_roles(roles)
    user = User(
        username=username,
        email=email.strip().lower(),
        first_name=first_name,
        last_name=last_name,
        language=language or translation.get_language() or settings.LANGUAGE_CODE,
    )
    user.set_unusable_password()
    user.save()
    _set_roles(user, roles)
    AccountEvent.objects.create(
        user=user, actor=actor, kind=AccountEvent.Kind.CREATED, detail={"roles": roles}
    )
    if send_invitation:
        request_invitation(actor=actor, user=user)
    return user


@transaction.atomic
def request_invitation(*, actor: User | None, user: User) -> None:
    """Ask the worker to e-mail `user` a link to set their password."""
    from accounts.tasks import send_invitation_task

    user.invitation_requested_at = timezone.now()
    user.save(update_fields=["invitation_requested_at"])
    AccountEvent.objects.create(user=user, actor=actor, kind=AccountEvent.Kind.INVITATION_REQUESTED)
    send_invitation_task.delay_on_commit(user.pk)


@transaction.atomic
def change_roles(*, actor: User, user: User, roles: list[str]) -> None:
    """Replace the roles of `user`, recording before and after."""
    after = _checked_roles(roles)
    before = sorted(role.value for role in user.roles)
    _set_roles(user, after)
    if before != after:
        AccountEvent.objects.create(
            user=user,
            actor=actor,
            kind=AccountEvent.Kind.ROLES_CHANGED,
            detail={"before": before, "after": after},
        )


@transaction.atomic
def update_access(*, actor: User, user: User, roles: list[str], active: bool) -> None:
    """Change roles and active state together: an admin's edit is saved whole or not at all."""
    change_roles(actor=actor, user=user, roles=roles)
    set_active(actor=actor, user=user, active=active)


@transaction.atomic
def set_active(*, actor: User, user: User, active: bool) -> None:
    """Deactivate or reactivate a login. Deactivated users keep their history and leads."""
    if user.is_active == active:
        return
    user.is_active = active
    user.save(update_fields=["is_active"])
    kind = AccountEvent.Kind.REACTIVATED if active else AccountEvent.Kind.DEACTIVATED
    AccountEvent.objects.create(user=user, actor=actor, kind=kind)


def send_invitation(*, user_id: int, base_url: str | None = None) -> bool:
    """Send the pending invitation of a user, once. Returns whether a mail went out.

    Safe to call twice for the same request: the row lock and the sent-after-requested check
    make a redelivered task a no-op.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None or not user.invitation_pending:
            return False
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        path = reverse("accounts:password-set", kwargs={"uidb64": uid, "token": token})
        link = (base_url or settings.SITE_URL).rstrip("/") + path
        with translation.override(user.language or settings.LANGUAGE_CODE):
            body = render_to_string("accounts/invitation_email.txt", {"user": user, "link": link})
            subject = render_to_string("accounts/invitation_subject.txt").strip()
        send_mail(subject, body, None, [user.email])
        user.invitation_sent_at = timezone.now()
        user.save(update_fields=["invitation_sent_at"])
        AccountEvent.objects.create(user=user, kind=AccountEvent.Kind.INVITATION_SENT)
    return True
