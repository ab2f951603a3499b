"""Web form submissions: telling bots from people, then capturing the lead.

The order of a submission: count it against the rate limits, check where it came from,
check the signed render token (which form, when it was shown, which notices it showed),
the honeypot and the fill-in time. A blocked submission is logged without its data and the
visitor sees the usual thank-you page, so a bot learns nothing. A valid one goes to
`capture_lead`, the one way a lead comes in.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import connection
from django.utils import timezone

from consent.models import ConsentMethod, NoticeVersion
from consent.services import ConsentGiven, active_purpose_keys, current_notices
from leads.models import EventType, Source
from leads.services.capture import CaptureContext, CaptureResult, capture_lead
from webforms.models import (
    VISITOR_FIELDS,
    BlockedSubmission,
    BlockReason,
    RateLimitBucket,
    WebForm,
)

TOKEN_SALT = "webforms.render-token"
UTM_FIELDS = ["utm_source", "utm_medium", "utm_campaign"]


def min_fill_seconds() -> float:
    # People need a few seconds to read and fill in even the shortest form; scripts don't.
    return getattr(settings, "WEBFORMS_MIN_FILL_SECONDS", 3)


def token_max_age() -> float:
    return getattr(settings, "WEBFORMS_TOKEN_MAX_AGE", 24 * 3600)


def rate_limits() -> dict[str, tuple[int, int]]:
    """(submissions, seconds) per visitor address and form, and per form."""
    return {
        "ip": getattr(settings, "WEBFORMS_IP_RATE_LIMIT", (10, 10 * 60)),
        "form": getattr(settings, "WEBFORMS_FORM_RATE_LIMIT", (1000, 60)),
    }


def blocked_log_days() -> int:
    # The log holds visitors' addresses, which are personal data: keep it only for as long
    # as it helps to see an attack.
    return getattr(settings, "WEBFORMS_BLOCKED_LOG_DAYS", 30)


# --- The render token -------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderToken:
    """What the signed hidden field proves: which form was shown, when, with which notices."""

    slug: str
    rendered_at: float
    notice_ids: dict[str, int] = field(default_factory=dict)

    def sign(self) -> str:
        return signing.dumps(
            {"f": self.slug, "t": self.rendered_at, "n": self.notice_ids}, salt=TOKEN_SALT
        )

    @classmethod
    def read(cls, value: str) -> RenderToken | None:
        """The token in `value`, or None when it is missing, malformed or tampered with."""
        try:
            payload = signing.loads(value, salt=TOKEN_SALT)
            return cls(
                slug=str(payload["f"]),
                rendered_at=float(payload["t"]),
                notice_ids={str(key): int(pk) for key, pk in payload["n"].items()},
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
            return None

    def age(self, now: float | None = None) -> float:
        return (now if now is not None else time.time()) - self.rendered_at


def render_token_for(
    *,
    web_form: WebForm,
    notices: Mapping[str, NoticeVersion],
    rendered_at: float | None = None,
) -> RenderToken:
    return RenderToken(
        slug=web_form.slug,
        rendered_at=time.time() if rendered_at is None else rendered_at,
        notice_ids={key: notice.pk for key, notice in notices.items()},
    )


def notices_to_show(
    *, web_form: WebForm, shown_ids: Mapping[str, int] | None = None
) -> dict[str, NoticeVersion]:
    """The notice of each purpose the form asks, in purpose order.

    When the form was shown before (`shown_ids` from its token), the same notice versions
    again, so what the person reads and what their consent record names stay the same even
    if a notice was edited meanwhile.
    """
    asked = list(web_form.purposes.active().values_list("key", flat=True))
    # A purpose without any notice text cannot be asked: there is nothing to show.
    with_notice = active_purpose_keys()
    askable = [key for key in asked if key in with_notice]
    notices = current_notices(askable)
    if shown_ids:
        for notice in NoticeVersion.objects.filter(
            pk__in=list(shown_ids.values()), purpose__key__in=askable
        ).select_related("purpose"):
            if shown_ids.get(notice.purpose.key) == notice.pk:
                notices[notice.purpose.key] = notice
    return {key: notices[key] for key in askable}


# --- Screening --------------------------------------------------------------------------------


class SubmissionBlocked(Exception):
    def __init__(self, reason: BlockReason):
        self.reason = reason
        super().__init__(reason)


def screen_submission(
    *,
    web_form: WebForm,
    token_value: str,
    honeypot: str,
    origin: str,
    own_origin: str,
    embedded: bool,
    ip_address: str | None,
    user_agent: str,
) -> RenderToken:
    """Return the submission's render token, or log it and raise SubmissionBlocked.

    Every submission counts against the rate limits, blocked or not, so a flood of bad
    submissions gets rate limited as well.
    """
    reason = None
    token = RenderToken.read(token_value)
    if count_submission(web_form=web_form, ip_address=ip_address):
        reason = BlockReason.RATE_LIMITED
    elif not web_form.accepts_post_from(origin, own_origin=own_origin, embedded=embedded):
        reason = BlockReason.ORIGIN
    elif token is None or token.slug != web_form.slug or token.age() > token_max_age():
        reason = BlockReason.BAD_TOKEN
    elif honeypot:
        reason = BlockReason.HONEYPOT
    elif token.age() < min_fill_seconds():
        reason = BlockReason.TOO_FAST
    if reason is not None:
        BlockedSubmission.objects.create(
            web_form=web_form,
            reason=reason,
            ip_address=ip_address,
            user_agent=user_agent[:500],
        )
        raise SubmissionBlocked(reason)
    return token


# One round trip counts the submission for the visitor's address and for the form. The
# unique (key, window_start) makes concurrent submissions meet in ON CONFLICT, and the
# increment happens under the row lock, so no two of them read the same count.
COUNT_SQL = """
INSERT INTO webforms_ratelimitbucket (key, window_start, hits)
VALUES (%s, %s, 1), (%s, %s, 1)
ON CONFLICT (key, window_start) DO UPDATE SET hits = webforms_ratelimitbucket.hits + 1
RETURNING key, hits
"""


def _window_start(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


def count_submission(*, web_form: WebForm, ip_address: str | None) -> bool:
    """Count one submission; True when it is over a limit (per address or per form)."""
    now = timezone.now()
    limits = rate_limits()
    ip_limit, ip_seconds = limits["ip"]
    form_limit, form_seconds = limits["form"]
    ip_key = f"ip:{web_form.pk}:{ip_address or 'unknown'}"
    form_key = f"form:{web_form.pk}"
    with connection.cursor() as cursor:
        cursor.execute(
            COUNT_SQL,
            [
                ip_key,
                _window_start(now, ip_seconds),
                form_key,
                _window_start(now, form_seconds),
            ],
        )
        hits = dict(cursor.fetchall())
    if hits[form_key] == 1:
        # A new window of this form, at most once per window: a good moment to clear out old
        # counters and log rows without a scheduled job.
        purge_expired_records(now=now)
    return hits[ip_key] > ip_limit or hits[form_key] > form_limit


def purge_expired_records(*, now: datetime | None = None) -> None:
    """Delete rate-limit counters of past windows and blocked-submission rows past their
    retention."""
    now = now or timezone.now()
    longest_window = max(seconds for _limit, seconds in rate_limits().values())
    RateLimitBucket.objects.filter(
        window_start__lt=now - timedelta(seconds=longest_window)
    ).delete()
    BlockedSubmission.objects.filter(
        blocked_at__lt=now - timedelta(days=blocked_log_days())
    ).delete()


# --- Capture ----------------------------------------------------------------------------------


def submit_web_form(
    *,
    web_form: WebForm,
    data: Mapping[str, object],
    ticked_purposes: Iterable[str],
    token: RenderToken,
    page_url: str,
    form_url: str,
    utm: Mapping[str, str],
    ip_address: str | None,
    user_agent: str,
) -> CaptureResult:
    """Capture the lead of a screened submission, with the consents ticked on the form.

    Each consent names the notice version the token says was shown. Raises CaptureRejected
    (nothing saved) when `capture_lead` finds the data invalid.
    """
    shown = ["email", *[name for name in VISITOR_FIELDS if name in web_form.lead_fields]]
    lead_data = {name: data.get(name, "") for name in shown}
    lead_data["source"] = Source.WEB_FORM
    lead_data["campaign"] = web_form.campaign
    for name in UTM_FIELDS:
        lead_data[name] = (utm.get(name) or getattr(web_form, name))[:200]
    consents = [
        ConsentGiven(key, True, notice_id=token.notice_ids.get(key)) for key in ticked_purposes
    ]
    return capture_lead(
        data=lead_data,
        context=CaptureContext(
            channel=Source.WEB_FORM,
            event_type=EventType.FORM_SUBMISSION,
            event_properties={"form": web_form.slug},
            url=page_url,
            ip_address=ip_address,
            user_agent=user_agent,
            consent_method=ConsentMethod.WEB_FORM,
            consent_source=form_url,
        ),
        consents=consents,
    )
