"""The first-contact SLA: how many business hours a rep has to contact a lead handed to
them, and who made it.

Definitions shared with the funnel dashboard and the quota calculator (issue 6): a lead is
handed over at the later of its latest transition into MQL and its latest owner change to
its current owner (no transition into MQL: no hand-over); its first contact is its first
Activity at or after that moment, timed no earlier than 15 minutes before it was logged
(LOGGING_GRACE: backdating cannot meet the SLA); the SLA is met when that contact came
within SLA_FIRST_CONTACT_BUSINESS_HOURS business hours.
Business hours are BUSINESS_HOURS of BUSINESS_DAYS in TIME_ZONE.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, DateTimeField, F, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Greatest
from django.db.models.lookups import IsNull
from django.utils import timezone

from activities.models import Activity
from leads.models import Lead, OwnerChange, Stage
from scoring.models import StageTransition

# The stages in which a rep works a lead: the SLA clock of an uncontacted lead runs here.
WORKING_STAGES = [Stage.MQL, Stage.SQL, Stage.OPPORTUNITY]
# How far before its logging an activity may be dated and still count at its own time for
# the SLA (see with_hand_over).
LOGGING_GRACE = timedelta(minutes=15)


# --- Business-hours arithmetic ---------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The business hours of `day` as aware datetimes, or None on a day off. Opening hours
    never span the small-hours DST switch, so wall-clock arithmetic within a day is exact."""
    if day.weekday() not in settings.BUSINESS_DAYS:
        return None
    opens, closes = settings.BUSINESS_HOURS
    return (
        datetime.combine(day, time(opens), tzinfo=zone),
        datetime.combine(day, time(closes), tzinfo=zone),
    )


def business_hours_between(start: datetime, end: datetime) -> float:
    """Business hours from `start` to `end` (negative when `end` comes first)."""
    if end < start:
        return -business_hours_between(end, start)
    zone = _zone()
    start, end = start.astimezone(zone), end.astimezone(zone)
    if start.date() == end.date():
        return _hours_of_day(start.date(), start, end, zone)
    total = _hours_of_day(start.date(), start, end, zone)
    total += _hours_of_day(end.date(), start, end, zone)
    # The whole days between are counted, not walked: an SLA overdue for a year stays cheap.
    first, days = start.date() + timedelta(days=1), (end.date() - start.date()).days - 1
    weeks, rest = divmod(days, 7)
    business_days = weeks * len(settings.BUSINESS_DAYS) + sum(
        1
        for offset in range(rest)
        if (first + timedelta(days=weeks * 7 + offset)).weekday() in settings.BUSINESS_DAYS
    )
    opens, closes = settings.BUSINESS_HOURS
    return total + business_days * (closes - opens)


def _hours_of_day(day: date, start: datetime, end: datetime, zone: ZoneInfo) -> float:
    window = _day_window(day, zone)
    if window is None:
        return 0.0
    opens, closes = max(window[0], start), min(window[1], end)
    return max((closes - opens).total_seconds(), 0) / 3600


def add_business_hours(start: datetime, hours: float) -> datetime:
    """The moment `hours` business hours after `start` (nights, weekends add nothing)."""
    if hours < 0:
        raise ValueError("hours must not be negative")
    zone = _zone()
    current = start.astimezone(zone)
    remaining = timedelta(hours=hours)
    if not remaining:
        return current
    day = current.date()
    while True:
        window = _day_window(day, zone)
        if window is not None and current < window[1]:
            opens = max(window[0], current)
            available = window[1] - opens
            if remaining <= available:
                return opens + remaining
            remaining -= available
        day += timedelta(days=1)
        current = datetime.combine(day, time(0), tzinfo=zone)


def sla_hours() -> float:
    return float(settings.SLA_FIRST_CONTACT_BUSINESS_HOURS)


# --- Hand-over and first contact, set-based --------------------------------------------------


def with_hand_over(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """Annotate `handed_over_at` and `first_contact_at` (None when not handed over or not
    contacted yet), one pair of correlated subqueries served by the per-lead indexes."""
    latest_mql = (
        StageTransition.objects.filter(lead=OuterRef("pk"), to_stage=Stage.MQL)
        # With the id in the order, only the per-lead index (a lead's few transitions, then
        # sorted) fits; ordered by time alone Postgres may walk every MQL transition instead.
        .order_by("-occurred_at", "-pk")
        .values("occurred_at")[:1]
    )
    # The lead's latest owner change, read through the per-lead index; it counts when it made
    # the current owner the owner. (Asked as "the latest change to this owner", Postgres
    # walked the owner's changes instead: every lead a busy rep ever got, per lead.)
    latest_change = OwnerChange.objects.filter(lead=OuterRef("pk")).order_by("-changed_at", "-pk")
    latest_to_owner = Case(
        When(
            owner_id=Subquery(latest_change.values("to_owner")[:1]),
            then=Subquery(latest_change.values("changed_at")[:1]),
        ),
        default=None,
        output_field=DateTimeField(),
    )
    # An activity counts as contact when it happened, but no earlier than when it was logged
    # (less a grace for typing it in): a call dated back to just after the hand-over, logged
    # days later, must not turn a breach into "met". It must still have happened at or
    # after the hand-over (a colleague's older call logged late is no first contact).
    contact_at = Greatest("occurred_at", F("created_at") - LOGGING_GRACE)
    first_contact = (
        Activity.objects.filter(lead=OuterRef("pk"), occurred_at__gte=OuterRef("handed_over_at"))
        .annotate(contact_at=contact_at)
        .order_by("contact_at")
        .values("contact_at")[:1]
    )
    latest_mql_at = Subquery(latest_mql, output_field=DateTimeField())
    return leads.annotate(
        handed_over_at=Case(
            # Nobody owns it: it was not handed over to anyone.
            When(owner__isnull=True, then=None),
            # Never in MQL: an owner given to a lead still in "lead" (or earlier) is no
            # hand-over, so it cannot be an SLA breach. (GREATEST would skip the NULL.)
            When(IsNull(latest_mql_at, True), then=None),
            default=Greatest(latest_mql_at, latest_to_owner),
            output_field=DateTimeField(),
        )
    ).annotate(first_contact_at=Subquery(first_contact, output_field=DateTimeField()))


@dataclass(frozen=True)
class SlaStatus:
    handed_over_at: datetime | None
    due_at: datetime | None
    first_contact_at: datetime | None
    # True: contacted in time; False: contacted late; None: not contacted (yet) or no hand-over.
    met: bool | None
    # Not contacted and past due.
    overdue: bool
    # Business hours until due (negative: overdue by); None once contacted or not handed over.
    hours_left: float | None = None

    @property
    def overdue_by(self) -> float | None:
        return -self.hours_left if self.hours_left is not None and self.hours_left < 0 else None


def status_of(
    handed_over_at: datetime | None, first_contact_at: datetime | None, *, now: datetime
) -> SlaStatus:
    """The SLA of one hand-over, from its two moments."""
    if handed_over_at is None:
        return SlaStatus(None, None, first_contact_at, met=None, overdue=False)
    due_at = add_business_hours(handed_over_at, sla_hours())
    if first_contact_at is not None:
        return SlaStatus(
            handed_over_at, due_at, first_contact_at, met=first_contact_at <= due_at, overdue=False
        )
    return SlaStatus(
        handed_over_at,
        due_at,
        None,
        met=None,
        overdue=now > due_at,
        hours_left=business_hours_between(now, due_at),
    )


def sla_status(leads: Iterable[Lead | int], *, now: datetime | None = None) -> dict[int, SlaStatus]:
    """The SLA of each lead, by id; leads that were never handed over have a status with
    every moment None."""
    ids = {lead.pk if isinstance(lead, Lead) else int(lead) for lead in leads}
    now = now or timezone.now()
    rows = with_hand_over(Lead.objects.filter(pk__in=ids)).values_list(
        "pk", "handed_over_at", "first_contact_at"
    )
    return {pk: status_of(handed, contact, now=now) for pk, handed, contact in rows}


def handed_over_between(start: datetime, end: datetime, *, owner=None, team=None) -> QuerySet[Lead]:
    """Active leads handed over to their current owner within [start, end), annotated."""
    # The hand-over is the later of two moments, so it falls at or after `start` only if one
    # of them does: narrow to those leads by index before computing it.
    recent_mql = StageTransition.objects.filter(to_stage=Stage.MQL, occurred_at__gte=start).values(
        "lead_id"
    )
    recent_owner = OwnerChange.objects.filter(changed_at__gte=start).values("lead_id")
    leads = Lead.objects.active().filter(owner__isnull=False)
    if owner is not None:
        leads = leads.filter(owner=owner)
    if team is not None:
        leads = leads.filter(owner__sales_teams=team)
    leads = leads.filter(Q(pk__in=recent_mql) | Q(pk__in=recent_owner))
    return with_hand_over(leads).filter(handed_over_at__gte=start, handed_over_at__lt=end)


@dataclass
class RepSla:
    """One rep's first-contact record for the hand-overs of a period."""

    rep_id: int
    rep_name: str
    handed_over: int = 0
    contacted_in_time: int = 0
    contacted_late: int = 0
    open_in_time: int = 0
    open_overdue: int = 0

    @property
    def breaches(self) -> int:
        return self.contacted_late + self.open_overdue


def sla_summary(
    start: datetime, end: datetime, *, owner=None, team=None, now: datetime | None = None
) -> list[RepSla]:
    """Per rep, of the leads handed over to them within [start, end): how many, contacted in
    time, contacted late, not contacted and still in time, not contacted and overdue. Sorted
    by breaches, most first."""
    from accounts.models import User

    now = now or timezone.now()
    per_rep: dict[int, RepSla] = {}
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = handed_over_between(start, end, owner=owner, team=team).values_list(
        "owner_id", "handed_over_at", "first_contact_at"
    )
    for owner_id, handed, contact in rows:
        status = status_of(handed, contact, now=now)
        bucket = counts[owner_id]
        bucket["handed_over"] += 1
        if status.met is True:
            bucket["contacted_in_time"] += 1
        elif status.met is False:
            bucket["contacted_late"] += 1
        elif status.overdue:
            bucket["open_overdue"] += 1
        else:
            bucket["open_in_time"] += 1
    for user in User.objects.filter(pk__in=counts).only(
        "pk", "username", "first_name", "last_name"
    ):
        per_rep[user.pk] = RepSla(
            rep_id=user.pk, rep_name=user.get_full_name() or user.username, **counts[user.pk]
        )
    return sorted(per_rep.values(), key=lambda rep: (-rep.breaches, rep.rep_name))


def overdue_leads(*, owner=None, now: datetime | None = None) -> list[tuple[Lead, SlaStatus]]:
    """Leads in a working stage, handed over, not contacted and past their SLA, with their
    status, most overdue first."""
    now = now or timezone.now()
    leads = Lead.objects.active().filter(owner__isnull=False, stage__in=WORKING_STAGES)
    if owner is not None:
        leads = leads.filter(owner=owner)
    # Due at the earliest SLA hours later: a hand-over after now - SLA hours cannot be due.
    leads = with_hand_over(leads).filter(
        handed_over_at__isnull=False,
        first_contact_at__isnull=True,
        handed_over_at__lt=now - timedelta(hours=sla_hours()),
    )
    result = []
    for lead in leads.select_related("owner"):
        status = status_of(lead.handed_over_at, None, now=now)
        if status.overdue:
            result.append((lead, status))
    result.sort(key=lambda pair: pair[1].due_at)
    return result
