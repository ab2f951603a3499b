"""Background work of the sales workspace, run by Celery beat."""

from celery import shared_task

from sales import services


@shared_task
def assign_waiting_mqls_task() -> int:
    """Every minute: give unowned MQLs to teams by the assignment rules. Idempotent: a lead
    that got an owner is no longer waiting."""
    return services.assign_by_rules()


@shared_task
def remind_overdue_task() -> int:
    """Weekday mornings: e-mail each rep their leads past the first-contact SLA, once a day."""
    return services.send_overdue_reminders()
