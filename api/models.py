from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.utils.encoders import JSONEncoder

# How long a client may retry with the same key and get the first answer back. Clients retry
# within minutes; a day also covers a retry after a nightly job's crash.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


class IdempotencyKeyQuerySet(models.QuerySet):
    def expired(self, *, now=None) -> "IdempotencyKeyQuerySet":
        return self.filter(created_at__lt=(now or timezone.now()) - IDEMPOTENCY_KEY_LIFETIME)


class IdempotencyKey(models.Model):
    """The first successful answer to a request sent with an `Idempotency-Key` header.

    A row commits in the same transaction as the work it answers for, so it exists exactly
    when that work was done. Keys belong to the user who sent them: two clients choosing
    the same key never see each other's answers.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    key = models.CharField(_("key"), max_length=255)
    # SHA-256 of the method, path and body: the same key with another request is a mistake.
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"))
    # Encoded as DRF encodes responses, so a replay sends what the first answer sent.
    response_body = models.JSONField(_("response body"), encoder=JSONEncoder)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = IdempotencyKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_one_per_user_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"

    def is_expired(self, *, now=None) -> bool:
        return self.created_at < (now or timezone.now()) - IDEMPOTENCY_KEY_LIFETIME
