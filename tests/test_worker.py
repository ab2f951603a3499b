"""Service tests: a request's task travels through real Redis to a real worker process."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import AccountEvent, User
from accounts.roles import Role
from accounts.tests.factories import UserFactory

pytestmark = [pytest.mark.service, pytest.mark.django_db(transaction=True)]


def test_invitation_requested_by_a_request_is_sent_by_the_worker(
    client, celery_worker_process, wait_until
):
    ada = UserFactory(username="ada", roles=[Role.ADMIN])
    client.force_login(ada)

    response = client.post(
        reverse("accounts:user-create"),
        {"username": "bert", "email": "Bert@Example.nl", "roles": [Role.SALES_REP]},
    )

    assert response.status_code == 302
    bert = User.objects.get(username="bert")
    # The web process only asked; the mail went out in the worker, not here.
    assert mail.outbox == []

    def sent():
        bert.refresh_from_db()
        return bert.invitation_sent_at

    assert wait_until(sent), "the worker did not send the invitation"
    assert (
        AccountEvent.objects.filter(user=bert, kind=AccountEvent.Kind.INVITATION_SENT).count() == 1
    )


def test_worker_ignores_a_task_for_a_user_deleted_before_it_ran(celery_worker_process, wait_until):
    from accounts.tasks import send_invitation_task

    gone = UserFactory(username="gone")
    gone_id = gone.pk
    gone.delete()
    marker = UserFactory(username="marker")
    marker.invitation_requested_at = marker.date_joined
    marker.save()

    send_invitation_task.delay(gone_id)
    send_invitation_task.delay(marker.pk)

    # Tasks run in order on the solo pool: once the marker's is done, the missing row's was too.
    def marker_sent():
        marker.refresh_from_db()
        return marker.invitation_sent_at

    assert wait_until(marker_sent)
    assert not User.objects.filter(pk=gone_id).exists()
