from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """What every endpoint of the REST API shares: errors, pages, idempotency, permissions."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = _("REST API")

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group, Permission
        from django.db.models.signals import m2m_changed, post_delete, post_save
        from rest_framework.authtoken.models import Token

        from api.authentication import forget_tokens

        # Whatever could change what a token may do empties the token cache in this process.
        user = get_user_model()
        for model in (Token, user, Group, Permission):
            post_save.connect(forget_tokens, sender=model, dispatch_uid=f"forget-{model}")
            post_delete.connect(forget_tokens, sender=model, dispatch_uid=f"forget-d-{model}")
        for through in (
            user.groups.through,
            user.user_permissions.through,
            Group.permissions.through,
        ):
            m2m_changed.connect(forget_tokens, sender=through, dispatch_uid=f"forget-{through}")
