from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessageQuerySet(models.QuerySet):
    def pending(self) -> "OutboxMessageQuerySet":
        return self.filter(published_at__isnull=True)

    def published_before(self, moment) -> "OutboxMessageQuerySet":
        return self.filter(published_at__lt=moment)


class OutboxMessage(models.Model):
    """A Celery task requested in the same transaction as the change that needs it.

    The row commits or rolls back with that change, so a task is never lost to a broker
    outage and never sent for a change that did not happen. The relay publishes pending rows.
    Pending rows with the same dedupe key coalesce into one: a burst of 100 events for one
    lead asks for one re-score.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    dedupe_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    objects = OutboxMessageQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(published_at__isnull=True) & ~Q(dedupe_key=""),
                name="outbox_one_pending_per_key",
            ),
        ]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(published_at__isnull=True), name="outbox_pending"
            ),
            models.Index(fields=["published_at"], name="outbox_published"),
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else "pending"
        return f"{self.task}{self.args} ({state})"
