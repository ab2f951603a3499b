from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leads.models import Lead, Stage


class StageTransitionQuerySet(models.QuerySet):
    def for_lead(self, lead_id: int) -> "StageTransitionQuerySet":
        return self.filter(lead_id=lead_id).order_by("-occurred_at", "-id")


class StageTransition(models.Model):
    """An immutable record of one change of stage: from, to, who or which rule, why, when,
    and the score at that moment."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="transitions"
    )
    from_stage = models.CharField(_("from"), max_length=16, choices=Stage)
    to_stage = models.CharField(_("to"), max_length=16, choices=Stage)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True, max_length=2000)
    score = models.IntegerField(_("score at the time"))
    occurred_at = models.DateTimeField(_("when"), auto_now_add=True)

    objects = StageTransitionQuerySet.as_manager()

    class Meta:
        verbose_name = _("stage transition")
        verbose_name_plural = _("stage transitions")
        indexes = [
            models.Index(fields=["lead", "-occurred_at"], name="transition_lead_time"),
            models.Index(fields=["to_stage", "occurred_at"], name="transition_stage_time"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage} -> {self.to_stage}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("stage transitions are immutable")
        super().save(*args, **kwargs)
