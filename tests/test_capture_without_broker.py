"""Capture never waits on Redis: with the broker hung, a lead still comes in at once and its
re-score request waits in the outbox until the broker answers again."""

import socket
import time

import pytest
from celery import current_app
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from leads.models import Lead
from outbox.models import OutboxMessage
from outbox.services import publish_pending

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_redis_url():
    """A port that accepts connections and never answers: a frozen Redis."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


def test_an_api_capture_answers_within_a_second_while_redis_is_frozen(
    marketer, settings, hung_redis_url
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": hung_redis_url,
            "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 5},
        }
    }
    real_broker = current_app.conf.broker_url
    current_app.conf.broker_url = hung_redis_url
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=marketer).key}")
    try:
        started = time.monotonic()
        response = client.post(
            "/api/v1/leads/", {"email": "storm@example.nl", "first_name": "Storm"}, format="json"
        )
        elapsed = time.monotonic() - started
    finally:
        current_app.conf.broker_url = real_broker

    assert response.status_code == 201, response.content
    assert elapsed < 1.0
    lead = Lead.objects.get(email="storm@example.nl")
    request = OutboxMessage.objects.pending().get()
    assert request.args == [lead.pk]


def test_the_waiting_request_goes_out_once_the_broker_answers_again(marketer, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    client = APIClient()
    client.force_authenticate(marketer)
    client.post("/api/v1/leads/", {"email": "later@example.nl"}, format="json")
    assert OutboxMessage.objects.pending().count() == 1

    assert publish_pending() == 1

    assert OutboxMessage.objects.pending().count() == 0
