from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.models import Activity, ActivityKind, Outcome
from leads.tests.factories import LeadFactory
from sales.sla import (
    add_business_hours,
    business_hours_between,
    sla_status,
    sla_summary,
    status_of,
)
from sales.tests.conftest import became_mql, given_to, handed_over

AMS = ZoneInfo("Europe/Amsterdam")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=AMS)


# 2025-03-03 is a Monday.
MONDAY_10 = at(2025, 3, 3, 10)


def test_twenty_four_business_hours_from_monday_morning_end_on_thursday_morning():
    assert add_business_hours(MONDAY_10, 24) == at(2025, 3, 6, 10)


def test_the_weekend_adds_nothing():
    # Friday 16:00: one hour on Friday, 8 Monday, 8 Tuesday, 7 on Wednesday.
    assert add_business_hours(at(2025, 3, 7, 16), 24) == at(2025, 3, 12, 16)
    assert business_hours_between(at(2025, 3, 7, 16), at(2025, 3, 10, 10)) == 2


def test_a_hand_over_at_night_or_on_saturday_starts_counting_next_business_morning():
    assert add_business_hours(at(2025, 3, 8, 12), 2) == at(2025, 3, 10, 11)
    assert add_business_hours(at(2025, 3, 3, 8), 0.5) == at(2025, 3, 3, 9, 30)
    assert add_business_hours(at(2025, 3, 3, 20), 1) == at(2025, 3, 4, 10)


def test_business_hours_across_the_summer_time_switch():
    # Clocks go forward on Sunday 30 March 2025.
    assert business_hours_between(at(2025, 3, 28, 16), at(2025, 3, 31, 10)) == 2
    assert add_business_hours(at(2025, 3, 28, 16), 2) == at(2025, 3, 31, 10)


def test_hours_between_in_the_wrong_order_are_negative():
    assert business_hours_between(at(2025, 3, 4, 10), MONDAY_10) == -8


moments = st.datetimes(
    # Hypothesis wants naive bounds and applies the zone itself.
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(AMS),
)


@settings(max_examples=300, deadline=None)
@given(start=moments, hours=st.floats(min_value=0, max_value=300))
def test_adding_business_hours_and_measuring_them_gives_the_hours_back(start, hours):
    assert business_hours_between(start, add_business_hours(start, hours)) == pytest.approx(
        hours, abs=1e-5
    )


@settings(max_examples=200, deadline=None)
@given(weeks=st.integers(0, 520), a=st.floats(0, 47.9), b=st.floats(0, 47.9))
def test_nothing_counts_on_a_weekend(weeks, a, b):
    weekend = at(2024, 1, 6) + timedelta(weeks=weeks)  # a Saturday
    assert business_hours_between(weekend + timedelta(hours=a), weekend + timedelta(hours=b)) == 0


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(2020, 1, 1)), a=st.floats(17, 33), b=st.floats(17, 33))
def test_nothing_counts_at_night(day, a, b):
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=AMS)
    assert business_hours_between(midnight + timedelta(hours=a), midnight + timedelta(hours=b)) == 0


def test_status_of_a_contact_in_time_late_and_none_yet():
    in_time = status_of(MONDAY_10, at(2025, 3, 6, 9, 59), now=at(2025, 3, 10, 9))
    assert (in_time.due_at, in_time.met, in_time.overdue) == (at(2025, 3, 6, 10), True, False)
    late = status_of(MONDAY_10, at(2025, 3, 6, 10, 1), now=at(2025, 3, 10, 9))
    assert (late.met, late.overdue) == (False, False)
    waiting = status_of(MONDAY_10, None, now=at(2025, 3, 5, 10))
    assert (waiting.met, waiting.overdue, waiting.hours_left) == (None, False, 8)
    overdue = status_of(MONDAY_10, None, now=at(2025, 3, 6, 11))
    assert (overdue.met, overdue.overdue, overdue.overdue_by) == (None, True, 1)


def contact(lead, when):
    # Logged when it happened: the SLA times a contact no earlier than its logging.
    activity = Activity.objects.create(
        lead=lead, kind=ActivityKind.CALL, outcome=Outcome.REACHED, occurred_at=when
    )
    Activity.objects.filter(pk=activity.pk).update(created_at=when)
    return activity


def test_hand_over_is_the_later_of_becoming_mql_and_getting_the_current_owner(
    db, sales_rep, other_rep
):
    reassigned = handed_over(other_rep, MONDAY_10)
    given_to(reassigned, sales_rep, at(2025, 3, 4, 11))
    owned_before_mql = LeadFactory(stage="mql")
    given_to(owned_before_mql, sales_rep, at(2025, 3, 1, 12))
    became_mql(owned_before_mql, MONDAY_10)
    contact(owned_before_mql, at(2025, 3, 3, 9))  # before the hand-over: does not count
    contact(owned_before_mql, at(2025, 3, 3, 15))
    unowned = LeadFactory(stage="mql")
    became_mql(unowned, MONDAY_10)

    status = sla_status([reassigned, owned_before_mql, unowned.pk], now=at(2025, 3, 4, 12))

    assert status[reassigned.pk].handed_over_at == at(2025, 3, 4, 11)
    assert status[owned_before_mql.pk].handed_over_at == MONDAY_10
    assert status[owned_before_mql.pk].first_contact_at == at(2025, 3, 3, 15)
    assert status[owned_before_mql.pk].met is True
    assert status[unowned.pk].handed_over_at is None
    assert status[unowned.pk].overdue is False


def test_summary_counts_each_reps_hand_overs_of_the_period(db, sales_rep, other_rep):
    in_time = handed_over(sales_rep, MONDAY_10)
    contact(in_time, at(2025, 3, 4, 10))
    late = handed_over(sales_rep, MONDAY_10)
    contact(late, at(2025, 3, 7, 10))
    handed_over(sales_rep, MONDAY_10)  # never contacted: overdue by now
    handed_over(sales_rep, at(2025, 2, 20, 10))  # before the period
    handed_over(other_rep, at(2025, 3, 7, 10))  # not contacted, still in time

    summary = sla_summary(at(2025, 3, 1), at(2025, 3, 8), now=at(2025, 3, 10, 10))

    bob, rob = summary
    assert (bob.rep_id, bob.rep_name) == (sales_rep.pk, sales_rep.get_full_name())
    assert (bob.handed_over, bob.contacted_in_time, bob.contacted_late, bob.open_overdue) == (
        3,
        1,
        1,
        1,
    )
    assert bob.breaches == 2
    assert (rob.rep_id, rob.handed_over, rob.open_in_time, rob.breaches) == (other_rep.pk, 1, 1, 0)
    only_rob = sla_summary(at(2025, 3, 1), at(2025, 3, 8), owner=other_rep, now=at(2025, 3, 10))
    assert [rep.rep_id for rep in only_rob] == [other_rep.pk]


# --- Review findings (issue 6) ---------------------------------------------------------------


def test_an_owner_given_to_a_lead_that_never_became_mql_is_no_hand_over(db, sales_rep):
    """A manager assigning a lead still in "lead" starts no SLA clock, so no breach."""
    lead = LeadFactory(stage="lead")
    handed = timezone.now() - timedelta(days=10)
    given_to(lead, sales_rep, handed)

    assert sla_status([lead])[lead.pk].handed_over_at is None
    assert sla_status([lead])[lead.pk].overdue is False
    summary = sla_summary(handed - timedelta(days=1), timezone.now())
    assert sum(rep.handed_over for rep in summary) == 0


def test_backdating_a_call_does_not_turn_a_breach_into_met(db, sales_rep):
    """Handed over ten days ago and never contacted; a call logged now, dated an hour after
    the hand-over, counts from its logging (less the grace): contacted late."""
    from activities.services import log_activity

    handed = timezone.now() - timedelta(days=10)
    lead = handed_over(sales_rep, handed)
    assert sla_status([lead])[lead.pk].overdue

    log_activity(
        lead_id=lead.pk,
        kind="call",
        outcome="reached",
        actor=sales_rep,
        occurred_at=handed + timedelta(hours=1),
    )

    status = sla_status([lead])[lead.pk]
    assert status.met is False
    assert status.first_contact_at > timezone.now() - timedelta(minutes=16)


def test_a_call_dated_within_the_grace_counts_at_its_own_time(db, sales_rep):
    from activities.services import log_activity

    handed = timezone.now() - timedelta(hours=1)
    lead = handed_over(sales_rep, handed)
    called = timezone.now() - timedelta(minutes=10)

    log_activity(
        lead_id=lead.pk, kind="call", outcome="reached", actor=sales_rep, occurred_at=called
    )

    assert sla_status([lead])[lead.pk].first_contact_at == called
