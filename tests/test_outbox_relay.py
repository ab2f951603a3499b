"""Service test: an outbox row travels relay -> Redis -> worker once its transaction commits."""

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from outbox.models import OutboxMessage
from outbox.services import request_task

pytestmark = [pytest.mark.service, pytest.mark.django_db(transaction=True)]


def test_a_committed_outbox_request_is_relayed_and_run_by_the_worker(
    celery_worker_process, outbox_relay_process, wait_until
):
    carol = UserFactory(username="carol")
    with transaction.atomic():
        carol.invitation_requested_at = timezone.now()
        carol.save()
        request_task("accounts.tasks.send_invitation_task", carol.pk, dedupe_key="invite:carol")

    def sent():
        carol.refresh_from_db()
        return carol.invitation_sent_at

    assert wait_until(sent), "the relay or the worker did not pick up the request"
    assert OutboxMessage.objects.get().published_at is not None
