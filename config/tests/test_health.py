"""/healthz against real services: the test database, real Redis and closed ports."""

import copy

import pytest
from django.db import connection
from django.db.utils import ConnectionHandler
from django.urls import reverse

from config import health

pytestmark = pytest.mark.django_db

CLOSED_PORT = 1


@pytest.fixture
def unreachable_database(monkeypatch, tmp_path):
    """Point /healthz at a copy of the real database settings that cannot be reached."""
    database = copy.deepcopy(connection.settings_dict)
    if connection.vendor == "postgresql":
        database["PORT"] = CLOSED_PORT
    else:
        # SQLite creates a missing file but not a missing directory.
        database["NAME"] = str(tmp_path / "no-such-directory" / "leadladder.sqlite3")
    unreachable = ConnectionHandler({"default": database})
    monkeypatch.setattr(health, "connections", unreachable)
    yield
    unreachable.close_all()


def test_healthz_reports_database_and_broker_ok_when_both_answer(client, settings):
    # scripts/run_tests.py sets REDIS_URL whenever Redis answers on this machine.
    assert settings.REDIS_URL, "run through scripts/run_tests.py with Redis up"

    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok"}


def test_healthz_reports_eager_broker_when_no_redis_is_configured(client, settings):
    settings.REDIS_URL = ""

    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "eager"}


def test_healthz_stays_healthy_with_broker_down_because_capture_survives_it(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{CLOSED_PORT}/0"

    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "down"


def test_healthz_is_unhealthy_when_the_database_is_unreachable(client, unreachable_database):
    response = client.get(reverse("healthz"))

    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_anonymous_load_balancer_gets_health_without_login_redirect(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_healthz_is_never_cached(client):
    response = client.get(reverse("healthz"))

    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-cache", "no-store", "must-revalidate", "max-age=0"} <= cache_control
    assert "Expires" in response
