"""What sales does with a lead: logged contacts (calls, e-mails, meetings) and tasks."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leads.models import Lead


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("E-mail")
    MEETING = "meeting", _("Meeting")


class Outcome(models.TextChoices):
    REACHED = "reached", _("Reached, talked")
    NO_ANSWER = "no_answer", _("No answer")
    VOICEMAIL = "voicemail", _("Left a voicemail")
    MEETING_BOOKED = "meeting_booked", _("Meeting booked")
    NOT_INTERESTED = "not_interested", _("Not interested")
    SENT = "sent", _("Sent")
    HELD = "held", _("Held")
    OTHER = "other", _("Other")


class ActivityQuerySet(models.QuerySet):
    def for_lead(self, lead_id: int) -> "ActivityQuerySet":
        return self.filter(lead_id=lead_id).order_by("-occurred_at", "-id")


class Activity(models.Model):
    """One contact with the lead, logged by the person who made it. The first one after a
    hand-over stops the SLA clock (sales.sla)."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="activities"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=ActivityKind)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome)
    notes = models.TextField(_("notes"), blank=True, max_length=5000)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("logged"), auto_now_add=True)

    objects = ActivityQuerySet.as_manager()

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["lead", "occurred_at"], name="activity_lead_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.lead_id}"


class TaskQuerySet(models.QuerySet):
    def open(self) -> "TaskQuerySet":
        return self.filter(done_at__isnull=True)

    def for_lead(self, lead_id: int) -> "TaskQuerySet":
        return self.filter(lead_id=lead_id).order_by("due_at", "id")


class Task(models.Model):
    """Something to do for a lead by a due date ("call back Tuesday")."""

    lead = models.ForeignKey(
        Lead, verbose_name=_("lead"), on_delete=models.CASCADE, related_name="tasks"
    )
    title = models.CharField(_("what"), max_length=200)
    due_at = models.DateTimeField(_("due"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("for"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="lead_tasks",
    )
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("done by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(
                fields=["lead", "due_at"],
                condition=models.Q(done_at__isnull=True),
                name="task_open_lead_due",
            ),
            models.Index(
                fields=["assignee", "due_at"],
                condition=models.Q(done_at__isnull=True),
                name="task_open_assignee_due",
            ),
        ]

    def __str__(self) -> str:
        return self.title
