"""Lists of leads and of a lead's events: filters, sort orders and keyset pages.

Built for a million leads. Every sort order has an index that ends in `-id`, so a page is one
index range scan from the cursor on: no OFFSET (which reads and throws away every row before
the page) and no COUNT(*) of the matching rows (which reads all of them). Several stages
sorted by score are read one (stage, score, id) range each and merged.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from consent.models import ConsentRecord
from leads.models import Event, Lead, Source, Stage

PAGE_SIZE = 25
TIMELINE_PAGE_SIZE = 20

# The columns the list shows; `only()` keeps the need and UTM texts out of every page.
LIST_COLUMNS = [
    "id", "email", "first_name", "last_name", "company", "stage", "score", "source",
    "campaign", "created_at", "last_activity_at",
    "owner__id", "owner__username", "owner__first_name", "owner__last_name",
]  # fmt: skip


def possible_owners() -> QuerySet[User]:
    """Active users who work the sales queue: the people a lead can be given to."""
    # distinct: a user holding the permission through two groups is still one person.
    return (
        User.objects.with_perm(
            "leads.work_sales_queue", backend="django.contrib.auth.backends.ModelBackend"
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def owner_choices(owners: list[User]) -> list[tuple[str, str]]:
    return [(str(user.pk), user.get_full_name() or user.username) for user in owners]


def search_condition(text: str) -> Q:
    """Leads whose e-mail address, name or company starts with `text`.

    Prefix matches only: with the pattern-ops indexes on `email` and on UPPER(first_name),
    UPPER(last_name) and UPPER(company) each one is an index range scan, where a `contains`
    would read every row. E-mail addresses are stored lower-case, so a plain `startswith`
    on the lower-cased text is case-insensitive and uses the index without UPPER().
    """
    text = text.strip()
    if "@" in text:
        return Q(email__startswith=text.lower())
    condition = (
        Q(email__startswith=text.lower())
        | Q(first_name__istartswith=text)
        | Q(last_name__istartswith=text)
        | Q(company__istartswith=text)
    )
    first, _space, rest = text.partition(" ")
    if rest.strip():
        # "sanne de v" finds Sanne de Vries.
        condition |= Q(first_name__istartswith=first, last_name__istartswith=rest.strip())
    return condition


def has_marketing_consent() -> Exists:
    """True for a lead whose latest record for some direct-marketing purpose is a grant."""
    return Exists(
        ConsentRecord.objects.current().filter(
            subject_id=OuterRef("pk"), purpose__is_marketing=True, granted=True
        )
    )


class ConsentStatus:
    """Values of the list's consent filter, as they appear in the query string."""

    MARKETING = "marketing"
    NO_MARKETING = "no_marketing"


def _start_of_day(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class SortOrder:
    """One way to order the list, newest or highest first, with `id` to break ties."""

    def __init__(self, key: str, label, field: str, *, nullable: bool = False) -> None:
        self.key = key
        self.label = label
        self.field = field
        # Leads without a value come last, after every lead with one.
        self.nullable = nullable

    def value_of(self, lead: Lead) -> Any:
        return getattr(lead, self.field)

    def export_ordering(self) -> list:
        """The same order for a whole export, which reads everything and needs no keyset."""
        return [F(self.field).desc(nulls_last=True), F("id").desc()]


SORT_ORDERS = {
    order.key: order
    for order in [
        SortOrder("score", _("Score, highest first"), "score"),
        SortOrder("created", _("Created, newest first"), "created_at"),
        SortOrder("activity", _("Last activity, latest first"), "last_activity_at", nullable=True),
    ]
}
DEFAULT_SORT = SORT_ORDERS["score"]


class LeadFilter(django_filters.FilterSet):
    """The filters of the lead list. Everything lives in the query string, so a filtered
    list is a link that can be shared."""

    q = django_filters.CharFilter(
        label=_("Search"),
        method="filter_search",
        max_length=100,
        help_text=_("The start of a name, e-mail address or company."),
    )
    stage = django_filters.MultipleChoiceFilter(
        label=_("Stage"),
        choices=Stage.choices,
        method="filter_stage",
        widget=forms.CheckboxSelectMultiple,
    )
    score_min = django_filters.NumberFilter(
        label=_("Score from"), field_name="score", lookup_expr="gte"
    )
    score_max = django_filters.NumberFilter(
        label=_("Score to"), field_name="score", lookup_expr="lte"
    )
    source = django_filters.ChoiceFilter(
        label=_("Source channel"), choices=Source.choices, empty_label=_("Any source")
    )
    campaign = django_filters.CharFilter(label=_("Campaign"), max_length=200)
    owner = django_filters.ChoiceFilter(
        label=_("Owner"),
        method="filter_owner",
        empty_label=_("Anyone"),
        null_label=_("Unassigned"),
        null_value="none",
    )
    consent = django_filters.ChoiceFilter(
        label=_("Consent"),
        choices=[
            (ConsentStatus.MARKETING, _("Has marketing consent")),
            (ConsentStatus.NO_MARKETING, _("No marketing consent")),
        ],
        empty_label=_("Any consent status"),
        method="filter_consent",
        help_text=_("Marketing consent: a direct-marketing purpose granted and not withdrawn."),
    )
    created_from = django_filters.DateFilter(
        label=_("Created from"),
        method="filter_created_from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_to = django_filters.DateFilter(
        label=_("Created to"),
        method="filter_created_to",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"),
        choices=[(order.key, order.label) for order in SORT_ORDERS.values()],
        empty_label=None,
        method="filter_nothing",
    )

    class Meta:
        model = Lead
        fields: list[str] = []

    def __init__(self, *args, owners: list[User] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The view reads the possible owners once, for this filter and the assign form.
        owners = list(possible_owners()) if owners is None else owners
        self.filters["owner"].extra["choices"] = owner_choices(owners)
        # Bootstrap's classes on the widgets: the template renders the fields one by one,
        # which is much quicker than crispy on a page that must answer within 50 ms. The
        # filter-* classes tell htmx which fields ask as they are typed in (see the template).
        self.form.label_suffix = ""
        for field in self.form.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple):
                continue  # its attrs would land on the wrapper as well as on each box
            if isinstance(widget, forms.Select):
                widget.attrs["class"] = "form-select filter-picked"
            elif isinstance(widget, forms.DateInput):
                widget.attrs["class"] = "form-control filter-picked"
            else:
                widget.attrs["class"] = "form-control filter-typed"

    def filter_search(self, queryset: QuerySet[Lead], name: str, value: str) -> QuerySet[Lead]:
        return queryset.filter(search_condition(value)) if value.strip() else queryset

    def filter_owner(self, queryset: QuerySet[Lead], name: str, value: str):
        if value == "none":
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner_id=int(value))

    def filter_stage(self, queryset: QuerySet[Lead], name: str, value: list[str]):
        # One `stage IN (...)`, not the OR of equalities django-filter would build.
        return queryset.in_stage(*value)

    def filter_consent(self, queryset: QuerySet[Lead], name: str, value: str):
        if value == ConsentStatus.MARKETING:
            return queryset.filter(has_marketing_consent())
        return queryset.filter(~has_marketing_consent())

    def filter_created_from(self, queryset: QuerySet[Lead], name: str, value):
        # A range on the column itself, not `created_at__date`: that would cast every row
        # to a date and leave the created_at index unused.
        return queryset.filter(created_at__gte=_start_of_day(value))

    def filter_created_to(self, queryset: QuerySet[Lead], name: str, value):
        return queryset.filter(created_at__lt=_start_of_day(value + timedelta(days=1)))

    def filter_nothing(self, queryset: QuerySet[Lead], name: str, value: str):
        # The sort order is applied by `keyset_page`, which needs to know it.
        return queryset

    @property
    def sort_order(self) -> SortOrder:
        if not self.is_bound:
            return DEFAULT_SORT
        self.form.is_valid()  # cleans once; a field with an error is left out
        return SORT_ORDERS.get(self.form.cleaned_data.get("sort") or "", DEFAULT_SORT)

    @property
    def stages(self) -> list[str]:
        """The stages the list is filtered on; empty for every stage."""
        if not self.is_bound or not self.form.is_valid() and "stage" in self.form.errors:
            return []
        return list(self.form.cleaned_data.get("stage") or [])

    def query_string(self) -> str:
        """The filters and sort order as a query string: no page cursor, no empty fields."""
        query = QueryDict(mutable=True)
        for name in self.filters:
            values = [value for value in self.data.getlist(name) if value] if self.data else []
            if values:
                query.setlist(name, values)
        return query.urlencode()


# --- Keyset pages --------------------------------------------------------------------------


class InvalidCursor(ValueError):
    """A cursor from a URL that Leadladder did not make."""


def _is_id(value: Any) -> bool:
    return type(value) is int and 0 < value < 2**63


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: the sort value and id of the row just before it (or, going
    backwards, just after it)."""

    sort: str
    value: Any
    id: int
    backwards: bool = False

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        data = [self.sort, "p" if self.backwards else "n", value, self.id]
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse a cursor from a URL; anything malformed raises InvalidCursor."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            sort, direction, value, pk = json.loads(raw)
        except (ValueError, TypeError, binascii.Error) as error:
            raise InvalidCursor(text) from error
        order = SORT_ORDERS.get(sort) if isinstance(sort, str) else None
        if order is None or direction not in ("n", "p") or not _is_id(pk):
            raise InvalidCursor(text)
        if value is None:
            if not order.nullable:
                raise InvalidCursor(text)
        elif order.field == "score":
            if type(value) is not int or not -(2**31) <= value < 2**31:
                raise InvalidCursor(text)
        else:
            try:
                value = datetime.fromisoformat(value)
            except (TypeError, ValueError) as error:
                raise InvalidCursor(text) from error
            if timezone.is_naive(value):
                raise InvalidCursor(text)
        return cls(sort=sort, value=value, id=pk, backwards=direction == "p")

    @classmethod
    def of(cls, lead: Lead, order: SortOrder, *, backwards: bool = False) -> Cursor:
        return cls(sort=order.key, value=order.value_of(lead), id=lead.pk, backwards=backwards)


@dataclass(frozen=True)
class LeadPage:
    leads: list[Lead]
    next_cursor: Cursor | None
    previous_cursor: Cursor | None


def _segments(
    queryset: QuerySet[Lead], order: SortOrder, cursor: Cursor | None, *, backwards: bool
) -> list[QuerySet[Lead]]:
    """The querysets that, read one after the other, give the rows after (or before) `cursor`.

    A nullable sort column is read in two parts, rows with a value and then rows without, so
    each part is one range of the `(column DESC, id DESC)` index and never an OR across it.
    """
    field = order.field
    key = Tuple(F(field), F("id"))
    after = TupleGreaterThan if backwards else TupleLessThan
    if backwards:
        ordering, id_ordering = [F(field).asc(), F("id").asc()], [F("id").asc()]
    else:
        ordering, id_ordering = [F(field).desc(), F("id").desc()], [F("id").desc()]

    if not order.nullable:
        valued = queryset
        if cursor is not None:
            valued = valued.filter(after(key, (cursor.value, cursor.id)))
        return [valued.order_by(*ordering)]

    valued = queryset.filter(**{f"{field}__isnull": False}).order_by(*ordering)
    empty = queryset.filter(**{f"{field}__isnull": True}).order_by(*id_ordering)
    if cursor is None:
        return [empty, valued] if backwards else [valued, empty]
    if cursor.value is None:
        empty = empty.filter(id__gt=cursor.id) if backwards else empty.filter(id__lt=cursor.id)
        return [empty, valued] if backwards else [empty]
    valued = valued.filter(after(key, (cursor.value, cursor.id)))
    return [valued] if backwards else [valued, empty]


def _read_each_stage(
    segment: QuerySet[Lead], stages: list[str], count: int, *, backwards: bool
) -> list[Lead]:
    """The first `count` rows of `segment` (ordered by score), read per stage.

    `stage IN (a, b)` ordered by score cannot use the (stage, score, id) index: Postgres
    would walk the score index from the top and skip every lead of other stages, seconds
    when the chosen stages score low. One index range per stage, merged in a UNION ALL,
    reads only the rows it returns.
    """
    ordering = ["score", "id"] if backwards else ["-score", "-id"]
    parts = [
        segment.filter(stage=stage).order_by(*ordering).values_list("score", "id")[:count]
        for stage in stages
    ]
    merged = parts[0].union(*parts[1:], all=True).order_by(*ordering)[:count]
    ids = [pk for _score, pk in merged]
    by_id = {lead.pk: lead for lead in segment.filter(pk__in=ids).order_by()}
    return [by_id[pk] for pk in ids if pk in by_id]


def _read(
    segments: list[QuerySet[Lead]],
    count: int,
    *,
    stages: list[str] | None = None,
    backwards: bool = False,
) -> list[Lead]:
    rows: list[Lead] = []
    # SQLite cannot order and limit the parts of a UNION; it has no million leads either.
    split = bool(stages) and len(stages) > 1
    split = split and connection.features.supports_slicing_ordering_in_compound
    for segment in segments:
        if split:
            rows += _read_each_stage(segment, stages, count - len(rows), backwards=backwards)
        else:
            rows += segment[: count - len(rows)]
        if len(rows) >= count:
            break
    return rows


def keyset_page(
    queryset: QuerySet[Lead],
    *,
    order: SortOrder,
    cursor: Cursor | None = None,
    size: int = PAGE_SIZE,
    stages: list[str] | None = None,
) -> LeadPage:
    """One page of `queryset` in `order`, starting after `cursor` (or before it, going back).

    Reads `size + 1` rows: the extra one only tells whether there is a next page. `stages`,
    the stages `queryset` is filtered on, lets a page by score read each stage's index.
    """
    if cursor is not None and cursor.sort != order.key:
        cursor = None
    per_stage = stages if order.field == "score" else None
    if cursor is not None and cursor.backwards:
        segments = _segments(queryset, order, cursor, backwards=True)
        rows = _read(segments, size + 1, stages=per_stage, backwards=True)
        if len(rows) <= size:
            # Back at the start: show a full first page, even if rows came and went meanwhile.
            return keyset_page(queryset, order=order, size=size, stages=stages)
        rows = rows[:size][::-1]
        return LeadPage(
            leads=rows,
            next_cursor=Cursor.of(rows[-1], order),
            previous_cursor=Cursor.of(rows[0], order, backwards=True),
        )
    segments = _segments(queryset, order, cursor, backwards=False)
    rows = _read(segments, size + 1, stages=per_stage)
    more = len(rows) > size
    rows = rows[:size]
    return LeadPage(
        leads=rows,
        next_cursor=Cursor.of(rows[-1], order) if more else None,
        previous_cursor=Cursor.of(rows[0], order, backwards=True)
        if cursor is not None and rows
        else None,
    )


# --- A lead's timeline ----------------------------------------------------------------------

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EVENT_CURSOR = re.compile(r"(-?\d{1,18})-(\d{1,19})")


@dataclass(frozen=True)
class EventCursor:
    """The time and id of the last event shown; the next page holds older ones."""

    occurred_at: datetime
    id: int

    def encode(self) -> str:
        micros = (self.occurred_at - EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.id}"

    @classmethod
    def decode(cls, text: str) -> EventCursor:
        match = _EVENT_CURSOR.fullmatch(text)
        if not match or not _is_id(int(match[2])):
            raise InvalidCursor(text)
        try:
            occurred_at = EPOCH + timedelta(microseconds=int(match[1]))
        except OverflowError as error:
            raise InvalidCursor(text) from error
        return cls(occurred_at=occurred_at, id=int(match[2]))


@dataclass(frozen=True)
class TimelinePage:
    events: list[Event]
    older_cursor: EventCursor | None


def timeline_page(
    lead: Lead, *, before: EventCursor | None = None, size: int = TIMELINE_PAGE_SIZE
) -> TimelinePage:
    """The newest `size` events of `lead` that happened before `before`, newest first."""
    events = lead.events.for_timeline()
    if before is not None:
        key = Tuple(F("occurred_at"), F("id"))
        events = events.filter(TupleLessThan(key, (before.occurred_at, before.id)))
    rows = list(events[: size + 1])
    older = None
    if len(rows) > size:
        rows = rows[:size]
        older = EventCursor(occurred_at=rows[-1].occurred_at, id=rows[-1].pk)
    return TimelinePage(events=rows, older_cursor=older)
