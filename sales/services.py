"""Handing MQLs to sales: claiming from the queue, assignment by rules with a round robin,
away status and the overdue reminder."""

import logging
from collections import defaultdict
from datetime import date

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from leads.filters import possible_owners
from leads.models import Lead, Stage
from leads.services.assignment import assign_owner
from sales.models import AssignmentRule, AwayStatus, OverdueReminder, SalesTeam, TeamRotation
from sales.sla import overdue_leads

logger = logging.getLogger(__name__)

# One run assigns at most this many leads per rule: the beat runs every minute, and a
# backlog is worked off over a few runs instead of one long transaction.
ASSIGN_BATCH = 500


class ClaimRefused(Exception):
    """The lead cannot be claimed; the message says why, for the person who tried."""


def claim_lead(*, lead_id: int, user: User) -> Lead:
    """Make `user` the owner of an unowned MQL from the queue. Raises ClaimRefused when the
    lead does not exist, is not an MQL or was claimed by someone else meanwhile."""
    with transaction.atomic():
        # The row lock serialises two reps clicking at once: the second one waits, then reads
        # the first one's owner and is refused.
        # No join to the owner here: a row re-read after waiting for the lock comes back
        # with the new owner_id but the joined owner columns of the old snapshot.
        lead = Lead.objects.active().select_for_update().filter(pk=lead_id).first()
        if lead is None:
            raise ClaimRefused(_("This lead does not exist (any more)."))
        if lead.owner_id == user.pk:
            raise ClaimRefused(_("This lead is already yours."))
        if lead.owner_id is not None:
            owner = User.objects.get(pk=lead.owner_id)
            raise ClaimRefused(
                _("%(name)s claimed this lead first.")
                % {"name": owner.get_full_name() or owner.username}
            )
        if lead.stage != Stage.MQL:
            raise ClaimRefused(
                _("Only marketing-qualified leads can be claimed; this one is %(stage)s.")
                % {"stage": lead.get_stage_display()}
            )
        assign_owner(leads=[lead], owner=user, actor=user, reason=_("Claimed from the queue"))
    lead.owner = user
    return lead


def queue_leads() -> QuerySet[Lead]:
    """MQLs waiting for sales: active, in MQL, owned by nobody."""
    return Lead.objects.active().filter(stage=Stage.MQL, owner__isnull=True)


def eligible_members(team: SalesTeam, *, today: date | None = None) -> list[User]:
    """The team's members who get leads today: may work the queue and are not away, in a
    fixed order (by id) the round robin walks."""
    today = today or timezone.localdate()
    away = AwayStatus.objects.away_on(today).values("user_id")
    return list(possible_owners().filter(sales_teams=team).exclude(pk__in=away).order_by("pk"))


def assign_by_rules(*, lead_ids=None, actor: User | None = None) -> int:
    """Give unowned MQLs to teams by the first matching active rule, and within the team to
    its eligible members in turn. Leads no rule matches, and those whose team has nobody
    eligible, stay in the queue. Returns how many leads got an owner. Safe to run twice at
    once: leads and the team's rotation are locked, and locked leads are skipped."""
    assigned = 0
    earlier = Q()
    rules = list(AssignmentRule.objects.active().in_order().select_related("team"))
    today = timezone.localdate()
    for rule in rules:
        condition = rule.lead_filter()
        # A lead belongs to the first rule it matches only: leave those of earlier rules.
        matching = queue_leads().filter(condition).exclude(earlier) if earlier else None
        if matching is None:
            matching = queue_leads().filter(condition)
        earlier |= condition
        if lead_ids is not None:
            matching = matching.filter(pk__in=lead_ids)
        assigned += _assign_to_team(rule, matching, actor=actor, today=today)
        if not condition:
            break  # a fallback rule matches everything left: later rules never get a lead
    return assigned


def _assign_to_team(
    rule: AssignmentRule, matching: QuerySet[Lead], *, actor: User | None, today: date
) -> int:
    members = eligible_members(rule.team, today=today)
    if not members:
        return 0
    with transaction.atomic():
        rotation, _created = TeamRotation.objects.get_or_create(team=rule.team)
        rotation = TeamRotation.objects.select_for_update().get(pk=rotation.pk)
        # skip_locked: a lead a rep is claiming right now, or another run is assigning, is
        # left for them rather than waited for.
        ids = list(
            matching.select_for_update(skip_locked=True)
            .order_by("-score", "pk")
            .values_list("pk", flat=True)[:ASSIGN_BATCH]
        )
        if not ids:
            return 0
        start = 0
        if rotation.last_assigned_id is not None:
            later = [i for i, member in enumerate(members) if member.pk > rotation.last_assigned_id]
            start = later[0] if later else 0
        per_member: dict[int, list[int]] = defaultdict(list)
        for offset, lead_id in enumerate(ids):
            per_member[(start + offset) % len(members)].append(lead_id)
        reason = _("Assigned by rule %(position)s (team %(team)s)") % {
            "position": rule.position,
            "team": rule.team.name,
        }
        count = 0
        for index, lead_ids in per_member.items():
            count += assign_owner(leads=lead_ids, owner=members[index], actor=actor, reason=reason)
        rotation.last_assigned = members[(start + len(ids) - 1) % len(members)]
        rotation.save(update_fields=["last_assigned"])
    return count


def set_away(*, user: User, away: bool, until: date | None = None, actor: User) -> AwayStatus:
    """Mark `user` away (optionally up to and including `until`) or back."""
    status, _created = AwayStatus.objects.update_or_create(
        user=user,
        defaults={"away": away, "until": until if away else None, "changed_by": actor},
    )
    return status


def move_rule(*, rule: AssignmentRule, up: bool) -> None:
    """Swap a rule with its neighbour above or below, renumbering all rules 1..n."""
    with transaction.atomic():
        rules = list(AssignmentRule.objects.select_for_update().in_order())
        index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
        other = index - 1 if up else index + 1
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
        for position, item in enumerate(rules, start=1):
            if item.position != position:
                item.position = position
                item.save(update_fields=["position"])


def next_rule_position() -> int:
    last = AssignmentRule.objects.in_order().last()
    return (last.position + 1) if last else 1


def send_overdue_reminders(*, today: date | None = None) -> int:
    """E-mail each rep the list of their leads past the first-contact SLA, at most once a
    day per rep. Returns how many e-mails were sent."""
    today = today or timezone.localdate()
    per_owner: dict[int, list] = defaultdict(list)
    owners: dict[int, User] = {}
    for lead, status in overdue_leads():
        per_owner[lead.owner_id].append((lead, status))
        owners[lead.owner_id] = lead.owner
    sent = 0
    for owner_id, rows in per_owner.items():
        owner = owners[owner_id]
        if not owner.email or not owner.is_active:
            continue
        try:
            with transaction.atomic():
                # The row goes in first and the unique constraint refuses a second one for
                # the day; a failed send rolls it back, so the next run tries again.
                OverdueReminder.objects.create(user=owner, sent_on=today, lead_count=len(rows))
                _send_reminder(owner, rows)
        except IntegrityError:
            continue
        sent += 1
    return sent


def _send_reminder(owner: User, rows: list) -> None:
    language = getattr(owner, "language", "") or settings.LANGUAGE_CODE
    with translation.override(language):
        context = {"user": owner, "rows": rows, "base_url": getattr(settings, "SITE_URL", "")}
        subject = render_to_string("sales/email/overdue_subject.txt", context).strip()
        body = render_to_string("sales/email/overdue_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [owner.email])
