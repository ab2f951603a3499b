"""Shared personas and the real Celery worker for service tests.

The personas: Alice markets, Bob and Rob sell (in different teams, once teams exist),
Maud manages sales and Ada administers.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.roles import Role
from accounts.tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent


def pytest_configure(config):
    # Tests speak plain HTTP to the test client and render templates without collectstatic.
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_AUTOREFRESH = True
    settings.WHITENOISE_USE_FINDERS = True
    # Tests must not share cached figures with each other or with a developer's Redis.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # In CI a skipped test is a defect: it hides a missing service or a broken set-up.
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI: {report.longrepr}"


@pytest.fixture(autouse=True)
def _empty_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def marketer(db):
    return UserFactory(username="alice", first_name="Alice", roles=[Role.MARKETER])


@pytest.fixture
def sales_rep(db):
    return UserFactory(username="bob", first_name="Bob", roles=[Role.SALES_REP])


@pytest.fixture
def other_rep(db):
    return UserFactory(username="rob", first_name="Rob", roles=[Role.SALES_REP])


@pytest.fixture
def sales_manager(db):
    return UserFactory(username="maud", first_name="Maud", roles=[Role.SALES_MANAGER])


@pytest.fixture
def admin_user(db):
    return UserFactory(username="ada", first_name="Ada", roles=[Role.ADMIN])


@pytest.fixture
def no_role_user(db):
    return UserFactory(username="nora", first_name="Nora", roles=[])


def _unavailable(reason: str):
    # In CI a missing service is a failure, never a silent skip.
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run every service test)")
    pytest.skip(reason)


def _database_url_for_worker() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{db.get('PORT') or 5432}/{db['NAME']}"


def _service_env() -> dict:
    return {
        **os.environ,
        "DATABASE_URL": _database_url_for_worker(),
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }


def _start_service(command: list[str], ready_text: str, log_path: Path) -> subprocess.Popen:
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=_service_env(), stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while ready_text not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{' '.join(command)} did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    return process


def _stop_service(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def _require_worker_services() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        _unavailable("no Redis: set REDIS_URL or start Redis to run worker tests")
    if connection.vendor != "postgresql":
        _unavailable("the worker process needs PostgreSQL to share the test database")


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process consuming from Redis and writing to the test database."""
    _require_worker_services()
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "--pool=solo", "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--loglevel=INFO",
    ]  # fmt: skip
    process = _start_service(command, "ready.", tmp_path_factory.mktemp("worker") / "log")
    yield process
    _stop_service(process)


@pytest.fixture(scope="session")
def outbox_relay_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `manage.py relay_outbox` process publishing the test database's outbox."""
    _require_worker_services()
    command = [sys.executable, "manage.py", "relay_outbox"]
    process = _start_service(command, "relay running", tmp_path_factory.mktemp("relay") / "log")
    yield process
    _stop_service(process)


def _wait_until(predicate, timeout: float = 15.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


@pytest.fixture
def wait_until():
    """Poll a predicate until it returns something truthy or the timeout passes."""
    return _wait_until
