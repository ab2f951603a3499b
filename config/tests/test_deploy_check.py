"""`manage.py check --deploy` run the way production starts: a fresh process, settings from
the environment only."""

import os
import subprocess
import sys

from django.conf import settings

# What Django's get_random_secret_key() could return: 60 characters from its alphabet. It
# starts with "$" on purpose, because django-environ would read that as a reference to
# another variable.
PRODUCTION_SECRET_KEY = "$kq7(w!x2z^v9-r_m8=c@d1f+h3j6p0s)n5t4y&b*g%e#a$u2i8o7l9kq7w!x2"

PRODUCTION_ENVIRONMENT = {
    "DEBUG": "false",
    "SECRET_KEY": PRODUCTION_SECRET_KEY,
    "ALLOWED_HOSTS": "leads.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/leadladder",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SUPPRESSION_SALT": "a-salt-of-its-own-kept-forever-9f8e7d6c5b4a",
}

# The settings read BASE_DIR/.env, which on a developer's machine (or for `docker compose`)
# may hold SECRET_KEY or relaxed flags. The check must see exactly the environment below.
RUN_CHECK_WITHOUT_DOTENV = """
import sys
import environ
environ.Env.read_env = staticmethod(lambda *args, **kwargs: None)
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", *sys.argv[1:]])
"""


def run_deploy_check(environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            RUN_CHECK_WITHOUT_DOTENV,
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        cwd=settings.BASE_DIR,
        env={
            "PATH": os.environ.get("PATH", ""),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_environment_passes_deploy_check_without_a_single_warning():
    result = run_deploy_check(PRODUCTION_ENVIRONMENT)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output.upper(), output
    assert result.stdout.strip() == "System check identified no issues (0 silenced).", output
    assert result.stderr == "", output


def test_deploy_check_fails_on_the_insecure_fallback_secret_key():
    environment = {k: v for k, v in PRODUCTION_ENVIRONMENT.items() if k != "SECRET_KEY"}

    result = run_deploy_check(environment)

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "security.W009" in output, output


def test_deploy_check_fails_when_debug_is_left_on():
    result = run_deploy_check({**PRODUCTION_ENVIRONMENT, "DEBUG": "true"})

    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "security.W018" in output, output


def test_deploy_check_warns_when_erased_people_hang_on_the_secret_key():
    environment = {k: v for k, v in PRODUCTION_ENVIRONMENT.items() if k != "SUPPRESSION_SALT"}

    result = run_deploy_check(environment)

    assert "leadladder.W001" in result.stdout + result.stderr
