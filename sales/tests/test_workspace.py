"""My leads, the breaches view and the overdue reminder."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activities.models import Activity, ActivityKind, Outcome, Task
from leads.models import Stage
from sales.models import OverdueReminder
from sales.services import send_overdue_reminders
from sales.tasks import remind_overdue_task
from sales.tests.conftest import handed_over

AMS = ZoneInfo("Europe/Amsterdam")
MY_LEADS = reverse("leads:my-leads")
BREACHES = reverse("sales:breaches")


def contact(lead, when):
    # Logged when it happened: the SLA times a contact no earlier than its logging.
    activity = Activity.objects.create(
        lead=lead, kind=ActivityKind.CALL, outcome=Outcome.REACHED, occurred_at=when
    )
    Activity.objects.filter(pk=activity.pk).update(created_at=when)
    return activity


def test_my_leads_shows_next_task_and_sla_with_overdue_first(client, sales_rep, other_rep):
    now = timezone.now()
    overdue = handed_over(sales_rep, now - timedelta(days=10), first_name="Olga")
    fresh = handed_over(sales_rep, now - timedelta(minutes=5), stage=Stage.SQL)
    contacted = handed_over(sales_rep, now - timedelta(days=20), stage=Stage.OPPORTUNITY)
    contact(contacted, now - timedelta(days=19, hours=23))
    handed_over(sales_rep, now, stage=Stage.WON)  # done: not listed
    handed_over(other_rep, now)  # someone else's
    Task.objects.create(lead=fresh, title="Later", due_at=now + timedelta(days=3))
    Task.objects.create(lead=fresh, title="Call back", due_at=now + timedelta(days=1))
    Task.objects.create(lead=fresh, title="Done", due_at=now - timedelta(days=1), done_at=now)
    client.force_login(sales_rep)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(MY_LEADS)

    rows = response.context["rows"]
    assert [lead.pk for lead, _ in rows] == [overdue.pk, fresh.pk, contacted.pk]
    assert rows[0][1].overdue and rows[0][1].overdue_by > 0
    assert rows[1][0].next_task_title == "Call back"
    assert not rows[1][1].overdue and rows[1][1].hours_left > 0
    assert rows[2][1].met is True
    assert b"sla-overdue" in response.content
    assert len(queries) <= 8


def test_my_leads_is_for_people_who_work_the_queue(client, marketer):
    client.force_login(marketer)
    assert client.get(MY_LEADS).status_code == 403


def at(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


def test_breaches_counts_per_rep_and_drills_down_to_the_leads(
    client, sales_manager, sales_rep, other_rep
):
    now = timezone.now()
    in_time = handed_over(sales_rep, now - timedelta(days=10))
    contact(in_time, now - timedelta(days=10) + timedelta(minutes=30))
    late = handed_over(sales_rep, now - timedelta(days=12), first_name="Laura")
    contact(late, now - timedelta(days=2))
    never = handed_over(sales_rep, now - timedelta(days=9), first_name="Nina")
    handed_over(sales_rep, now - timedelta(days=45))  # before the default 30 days
    handed_over(other_rep, now - timedelta(minutes=1))
    client.force_login(sales_manager)

    response = client.get(BREACHES)

    assert response.status_code == 200
    summary = {row.rep_id: row for row in response.context["summary"]}
    bob = summary[sales_rep.pk]
    assert (bob.handed_over, bob.contacted_in_time, bob.contacted_late, bob.open_overdue) == (
        3,
        1,
        1,
        1,
    )
    assert (summary[other_rep.pk].handed_over, summary[other_rep.pk].breaches) == (1, 0)
    drill = client.get(BREACHES, {"rep": sales_rep.pk})
    assert [lead.pk for lead, _ in drill.context["drill"]] == [late.pk, never.pk]
    assert b"Laura" in drill.content and b"Nina" in drill.content
    long_ago = client.get(BREACHES, {"start": "2020-01-01", "end": "2020-01-31"})
    assert long_ago.context["summary"] == []


def test_breaches_with_a_bad_period_falls_back_to_the_last_30_days(client, sales_manager):
    client.force_login(sales_manager)
    response = client.get(BREACHES, {"start": "2025-02-01", "end": "2025-01-01"})
    assert response.status_code == 200
    assert response.context["end"] == timezone.localdate()
    assert b"not valid" in response.content
    assert client.get(BREACHES, {"start": "garbage", "rep": "x"}).status_code == 200


@pytest.mark.parametrize("persona", ["sales_rep", "marketer"])
def test_breaches_are_for_managers(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(BREACHES).status_code == 403


def test_each_rep_gets_one_reminder_a_day_listing_their_overdue_leads(
    db, sales_rep, other_rep, sales_manager
):
    now = timezone.now()
    handed_over(sales_rep, now - timedelta(days=10), first_name="Olga")
    handed_over(sales_rep, now - timedelta(days=8), first_name="Otto")
    contacted = handed_over(sales_rep, now - timedelta(days=10), first_name="Carla")
    contact(contacted, now - timedelta(days=9))
    handed_over(other_rep, now - timedelta(minutes=3))  # not due yet
    handed_over(sales_manager, now - timedelta(days=10), stage=Stage.LOST)  # closed

    assert remind_overdue_task() == 1
    assert remind_overdue_task() == 0

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [sales_rep.email]
    assert "2 leads" in message.subject
    assert "Olga" in message.body and "Otto" in message.body and "Carla" not in message.body
    assert "/leads/mine/" in message.body
    assert OverdueReminder.objects.get().lead_count == 2
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert send_overdue_reminders(today=tomorrow) == 1


@pytest.mark.parametrize(
    "period",
    [
        {"start": "9999-12-01", "end": "9999-12-31"},
        {"end": "9999-12-31"},
        {"start": "1999-12-31"},
    ],
)
def test_breaches_with_a_date_out_of_range_is_a_form_error_not_a_500(client, sales_manager, period):
    client.force_login(sales_manager)

    response = client.get(BREACHES, period)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert "Choose a date between" in response.content.decode()
    # The default period's figures are shown.
    assert response.context["end"] == timezone.localdate()
