"""Which leads have outlived their retention policy, a report of them, and erasing them.

Selection (`expired_leads`) is kept apart from acting (`apply_retention`): the dry-run
report, the nightly run and the admin's button all read the same query, so what the report
shows is what a run erases.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.models import ConsentRecord
from leads.models import Lead, Stage
from outbox.services import request_task
from retention.models import AppliesTo, RetentionPolicy, RetentionRun
from scoring.models import StageTransition

logger = logging.getLogger(__name__)

APPLY_TASK = "retention.tasks.apply_retention_task"
EXAMPLES = 20
# Ids read per query while erasing; each person is still erased in a transaction of its own.
CHUNK = 200
# A run that has not finished after this long died with its worker; a new one may start.
STALE_RUN = timedelta(hours=2)
# A sales conversation or a contract is a reason to keep a person of its own, whatever
# consent they withdrew (GDPR art. 6(1)(b)).
DEAL_STAGES = [Stage.SQL, Stage.OPPORTUNITY, Stage.WON]
ERASURE_CHANNEL = "retention"


# --- Selection --------------------------------------------------------------------------------


def has_active_consent() -> Exists:
    """True for a lead whose latest record for some purpose is a grant."""
    return Exists(ConsentRecord.objects.current().filter(subject_id=OuterRef("pk"), granted=True))


def withdrew_before(purpose_id: int, cutoff: datetime) -> Exists:
    """True for a lead whose latest record for the purpose is a withdrawal made before
    `cutoff`."""
    withdrawals = ConsentRecord.objects.current().filter(
        subject_id=OuterRef("pk"), purpose_id=purpose_id, granted=False, recorded_at__lt=cutoff
    )
    return Exists(withdrawals)


def ever_left_contact() -> Exists:
    """True for a lead that was ever moved to a stage other than contact."""
    moves = StageTransition.objects.filter(lead=OuterRef("pk")).exclude(to_stage=Stage.CONTACT)
    return Exists(moves)


def inactive_since(cutoff: datetime) -> Q:
    """No activity since `cutoff`; a lead that never did anything counts from its creation.
    Two ranges rather than COALESCE, so each can use its own index."""
    return Q(last_activity_at__lt=cutoff) | Q(last_activity_at__isnull=True, created_at__lt=cutoff)


def expired_leads(policy: RetentionPolicy, now: datetime) -> QuerySet[Lead]:
    """The active leads `policy` says may no longer be kept at `now`.

    Exactly `policy.months` months without activity is not yet expired; a moment more is.
    - contacts: still at stage contact and never moved on from it (no stage transition to
      any other stage); consent does not matter, as storage is limited in time even with it.
    - inactive_without_consent: no active consent for any purpose.
    - withdrawn_purpose: withdrew `policy.purpose` at least `months` ago and holds no active
      consent for any purpose; leads in a deal stage (SQL, opportunity, won) are kept.
    """
    cutoff = policy.cutoff(now)
    leads = Lead.objects.active().filter(inactive_since(cutoff))
    if policy.applies_to == AppliesTo.CONTACTS:
        return leads.filter(stage=Stage.CONTACT).filter(~ever_left_contact())
    if policy.applies_to == AppliesTo.INACTIVE_WITHOUT_CONSENT:
        return leads.filter(~has_active_consent())
    if policy.applies_to == AppliesTo.WITHDRAWN_PURPOSE:
        if policy.purpose_id is None:
            return Lead.objects.none()
        return (
            leads.exclude(stage__in=DEAL_STAGES)
            .filter(withdrew_before(policy.purpose_id, cutoff))
            .filter(~has_active_consent())
        )
    raise ValueError(f"unknown retention policy kind {policy.applies_to!r}")


def policy_reason(policy: RetentionPolicy, now: datetime) -> str:
    """Why the leads of `policy` are erased, in words; also the reason an erasure records."""
    cutoff = timezone.localtime(policy.cutoff(now))
    values = {"name": policy.name, "months": policy.months, "date": f"{cutoff:%Y-%m-%d}"}
    if policy.applies_to == AppliesTo.CONTACTS:
        text = _(
            "Retention policy “%(name)s”: a contact that never became a lead, without "
            "activity for %(months)s months (none since %(date)s)."
        )
    elif policy.applies_to == AppliesTo.INACTIVE_WITHOUT_CONSENT:
        text = _(
            "Retention policy “%(name)s”: no activity for %(months)s months (none since "
            "%(date)s) and no active consent for any purpose."
        )
    else:
        values["purpose"] = str(policy.purpose) if policy.purpose_id else "?"
        text = _(
            "Retention policy “%(name)s”: withdrew “%(purpose)s” before %(date)s, no "
            "activity since, and no active consent for any other purpose."
        )
    return text % values


# --- The dry-run report -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiredLead:
    """One lead in the report: enough to check why, nothing that identifies the person."""

    id: int
    stage: str
    stage_label: str
    last_activity_at: datetime


@dataclass(frozen=True)
class PolicyReport:
    policy: RetentionPolicy
    reason: str
    count: int
    examples: list[ExpiredLead] = field(default_factory=list)


def report_rows(leads: QuerySet[Lead]) -> QuerySet:
    """(id, stage, last activity or else creation) of each lead, oldest activity first."""
    return (
        leads.annotate(activity=Coalesce("last_activity_at", "created_at"))
        .order_by("activity", "id")
        .values_list("id", "stage", "activity")
    )


def policy_report(policy: RetentionPolicy, now: datetime) -> PolicyReport:
    leads = expired_leads(policy, now)
    labels = dict(Stage.choices)
    examples = [
        ExpiredLead(id=pk, stage=stage, stage_label=labels.get(stage, stage), last_activity_at=at)
        for pk, stage, at in report_rows(leads)[:EXAMPLES]
    ]
    return PolicyReport(
        policy=policy, reason=policy_reason(policy, now), count=leads.count(), examples=examples
    )


def dry_run(now: datetime | None = None) -> list[PolicyReport]:
    """What applying the active policies would erase at `now`: per policy the number of
    expired leads and the first few of them. Reads only; writes nothing."""
    now = now or timezone.now()
    return [policy_report(policy, now) for policy in RetentionPolicy.objects.active()]


# --- Applying ------------------------------------------------------------------------------------


class RunInProgress(Exception):
    """A retention run is already under way."""


@dataclass
class RetentionRunResult:
    run: RetentionRun
    erased: int = 0
    failed: int = 0
    counts: list[dict] = field(default_factory=list)


def request_retention_run(*, actor) -> RetentionRun:
    """Start a run now for `actor` (the admin's "erase expired now"): the run row is written
    at once and a worker erases, so a request never waits on thousands of erasures.

    Raises RunInProgress while another run is unfinished: a second click must not start a
    second run over the same leads.
    """
    with transaction.atomic():
        _lock_run_requests()
        recent = timezone.now() - STALE_RUN
        if RetentionRun.objects.unfinished().filter(started_at__gte=recent).exists():
            raise RunInProgress(_("A retention run is already under way."))
        run = RetentionRun.objects.create(started_at=timezone.now(), actor=actor)
        request_task(APPLY_TASK, run.pk, dedupe_key=f"retention-run:{run.pk}")
    return run


def _lock_run_requests() -> None:
    # Serialises two clicks: both would otherwise see no unfinished run and start one each.
    # The lock is held until the transaction ends.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('retention-run'))")


def _erase(lead: Lead, *, actor, reason: str) -> None:
    # Imported here: the privacy app owns erasure; retention only decides who.
    from privacy.services import erase_subject

    erase_subject(lead=lead, actor=actor, reason=reason, channel=ERASURE_CHANNEL)


def _apply_policy(
    policy: RetentionPolicy, now: datetime, *, actor, budget: int | None
) -> dict[str, int]:
    """Erase the leads `policy` selects, at most `budget` of them, one transaction each."""
    reason = policy_reason(policy, now)
    counts = {"expired": expired_leads(policy, now).count(), "erased": 0, "skipped": 0}
    counts["failed"] = 0
    last_id = 0
    while budget is None or counts["erased"] < budget:
        # Keyset chunks by id: erased leads drop out of the query, a failed one must not be
        # read again, and each chunk is one index range.
        ids = list(
            expired_leads(policy, now)
            .filter(pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:CHUNK]
        )
        if not ids:
            break
        for lead_id in ids:
            last_id = lead_id
            if budget is not None and counts["erased"] >= budget:
                break
            try:
                with transaction.atomic():
                    # Read again under a lock: the lead may have been active, consented,
                    # merged or erased (by a run in parallel) since the chunk was read.
                    # SKIP LOCKED leaves a lead another run is erasing to that run.
                    lead = (
                        expired_leads(policy, now)
                        .filter(pk=lead_id)
                        .select_for_update(skip_locked=True, of=("self",))
                        .first()
                    )
                    if lead is None:
                        counts["skipped"] += 1
                        continue
                    _erase(lead, actor=actor, reason=reason)
            except Exception:
                # One person who cannot be erased must not keep everyone else's data
                # past its time; the run reports the failure and the next night retries.
                logger.exception("retention: erasing lead %s failed", lead_id)
                counts["failed"] += 1
            else:
                counts["erased"] += 1
    return counts


def apply_retention(
    now: datetime | None = None,
    limit: int | None = None,
    *,
    actor=None,
    run: RetentionRun | None = None,
    dry_run: bool = False,
) -> RetentionRunResult:
    """Erase every lead an active policy says has expired at `now`, at most `limit` in all,
    and record the run (`run` when the admin's request wrote it, a new one otherwise).

    Safe to run twice and alongside another run: a lead is re-checked under a lock before
    it is erased, so an erased or meanwhile active lead is skipped. With `dry_run` only the
    counts are recorded.
    """
    if run is None:
        run = RetentionRun.objects.create(
            started_at=now or timezone.now(), actor=actor, dry_run=dry_run, limit=limit
        )
    else:
        actor = run.actor
        if run.is_finished:
            # A task delivered twice: the work is done.
            return RetentionRunResult(run=run, erased=run.erased, failed=run.failed)
        run.limit = limit
    now = now or run.started_at
    result = RetentionRunResult(run=run)
    for policy in RetentionPolicy.objects.active():
        if dry_run:
            counts = {"expired": expired_leads(policy, now).count()}
            counts |= {"erased": 0, "skipped": 0, "failed": 0}
        else:
            budget = None if limit is None else max(limit - result.erased, 0)
            counts = _apply_policy(policy, now, actor=actor, budget=budget)
        result.erased += counts["erased"]
        result.failed += counts["failed"]
        result.counts.append(
            {
                "policy": policy.pk,
                "name": policy.name,
                "applies_to": policy.applies_to,
                "months": policy.months,
                **counts,
            }
        )
    run.counts = result.counts
    run.erased = result.erased
    run.failed = result.failed
    run.finished_at = timezone.now()
    run.save()
    return result
