"""Liveness and readiness for load balancers and `docker compose` health checks."""

import functools

import redis
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache


def database_status(alias: str = "default") -> str:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return "down"
    return "ok"


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    # One client, and so one small connection pool, per process: a probe every few seconds
    # then reuses its connection instead of opening (and closing) one each time.
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def broker_status() -> str:
    if not settings.REDIS_URL:
        return "eager"
    try:
        _redis_client(settings.REDIS_URL).ping()
    except redis.RedisError:
        return "down"
    return "ok"


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    # A broker outage does not make the app unhealthy: capture keeps working through the
    # outbox and tasks catch up. Without a database nothing works.
    body = {"database": database_status(), "broker": broker_status()}
    return JsonResponse(body, status=200 if body["database"] == "ok" else 503)
