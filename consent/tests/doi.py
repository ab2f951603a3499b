"""Shared set-up of the double opt-in tests: a purpose that requires it and a lead."""

import re

from django.core import mail

from consent.confirmation import request_confirmations
from consent.models import ConsentConfirmation, Purpose
from consent.services import ConsentGiven
from consent.tasks import send_confirmation_email_task

DOI_PURPOSE = "marketing_email"


def require_double_opt_in(key: str = DOI_PURPOSE) -> Purpose:
    Purpose.objects.filter(key=key).update(requires_double_opt_in=True)
    return Purpose.objects.get(key=key)


def ask(subject_id: int, key: str = DOI_PURPOSE, **kwargs) -> ConsentConfirmation:
    """A web form asked for `key`: returns the request waiting for confirmation."""
    (confirmation,) = request_confirmations(
        subject_id=subject_id,
        choices=[ConsentGiven(key, True)],
        method=kwargs.pop("method", "web_form"),
        **kwargs,
    )
    return confirmation


def send(confirmation: ConsentConfirmation) -> mail.EmailMessage | None:
    """Run the e-mail task as the worker would; the message it sent, if any."""
    before = len(mail.outbox)
    send_confirmation_email_task(confirmation.pk)
    return mail.outbox[-1] if len(mail.outbox) > before else None


def link_in(message: mail.EmailMessage, kind: str) -> str:
    """The path of the first link of this kind (confirm, withdraw, preferences) in the mail."""
    match = re.search(rf"https?://[^/\s]+(/c/{kind}/[^\s]+/)", message.body)
    assert match, f"no {kind} link in:\n{message.body}"
    return match.group(1)
