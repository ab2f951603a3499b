"""Screening web form submissions: the token, the rate limit, the origin rules."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from webforms import services
from webforms.models import (
    BlockedSubmission,
    BlockReason,
    RateLimitBucket,
    WebForm,
    normalise_origin,
)
from webforms.services import RenderToken, count_submission
from webforms.tests.factories import WebFormFactory


def test_a_render_token_reads_back_what_was_signed():
    token = RenderToken(slug="brochure", rendered_at=1700000000.5, notice_ids={"contact": 7})

    assert RenderToken.read(token.sign()) == token


@pytest.mark.parametrize("value", ["", "garbage", "a:b:c", RenderToken("x", 1).sign() + "x"])
def test_anything_but_an_untouched_token_reads_as_none(value):
    assert RenderToken.read(value) is None


def test_a_token_signed_for_something_else_is_not_a_render_token():
    from django.core import signing

    assert RenderToken.read(signing.dumps({"f": "brochure", "t": 1, "n": {}})) is None


def test_the_defaults_are_three_seconds_a_day_ten_per_address_and_a_thousand_per_form():
    assert services.min_fill_seconds() == 3
    assert services.token_max_age() == 24 * 3600
    assert services.rate_limits() == {"ip": (10, 600), "form": (1000, 60)}


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://www.Example.nl", "https://www.example.nl"),
        ("https://www.example.nl/", "https://www.example.nl"),
        ("  https://example.nl:443 ", "https://example.nl"),
        ("https://example.nl:8443", "https://example.nl:8443"),
    ],
)
def test_an_allowed_origin_is_stored_as_browsers_send_it(value, origin):
    assert normalise_origin(value) == origin


@pytest.mark.parametrize(
    "value",
    [
        "http://example.nl",
        "example.nl",
        "https://example.nl/page",
        "https://*.example.nl",
        "https://example.nl; script-src *",
        "https://user@example.nl",
        "https://example.nl:99999",
    ],
)
def test_anything_but_an_https_origin_is_refused(value):
    with pytest.raises(ValueError):
        normalise_origin(value)


def test_only_well_formed_origins_reach_the_frame_ancestors_header():
    web_form = WebForm(allowed_origins=["https://ok.example", "https://x.example; script-src *", 7])

    assert web_form.frame_ancestors() == ["'self'", "https://ok.example"]


def test_the_hosted_page_accepts_posts_from_our_host_only_and_embeds_from_allowed_sites():
    web_form = WebForm(allowed_origins=["https://www.example.nl"])
    ours = "https://leads.example.com"

    assert web_form.accepts_post_from(ours, own_origin=ours, embedded=False)
    assert not web_form.accepts_post_from("https://www.example.nl", own_origin=ours, embedded=False)
    assert web_form.accepts_post_from("https://www.example.nl", own_origin=ours, embedded=True)
    assert not web_form.accepts_post_from("https://evil.example", own_origin=ours, embedded=True)
    assert not web_form.accepts_post_from("", own_origin=ours, embedded=True)


@pytest.mark.django_db
def test_the_rate_limit_counts_per_address_and_per_form(settings):
    settings.WEBFORMS_IP_RATE_LIMIT = (2, 600)
    web_form = WebFormFactory()

    results = [count_submission(web_form=web_form, ip_address="192.0.2.1") for _ in range(3)]

    assert results == [False, False, True]
    assert not count_submission(web_form=web_form, ip_address="192.0.2.2")
    assert not count_submission(web_form=WebFormFactory(), ip_address="192.0.2.1")
    assert RateLimitBucket.objects.get(key=f"form:{web_form.pk}").hits == 4


@pytest.mark.django_db
def test_the_rate_limit_starts_over_in_a_new_window(settings, monkeypatch):
    settings.WEBFORMS_IP_RATE_LIMIT = (1, 600)
    web_form = WebFormFactory()
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    count_submission(web_form=web_form, ip_address="192.0.2.1")
    assert count_submission(web_form=web_form, ip_address="192.0.2.1")

    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(minutes=10))

    assert not count_submission(web_form=web_form, ip_address="192.0.2.1")


@pytest.mark.django_db
def test_old_counters_and_log_rows_are_cleared_when_a_new_window_begins():
    web_form = WebFormFactory()
    long_ago = timezone.now() - timedelta(days=40)
    RateLimitBucket.objects.create(key="form:0", window_start=long_ago, hits=5)
    old = BlockedSubmission.objects.create(web_form=web_form, reason=BlockReason.HONEYPOT)
    BlockedSubmission.objects.filter(pk=old.pk).update(blocked_at=long_ago)
    recent = BlockedSubmission.objects.create(web_form=web_form, reason=BlockReason.HONEYPOT)

    count_submission(web_form=web_form, ip_address="192.0.2.1")

    assert not RateLimitBucket.objects.filter(key="form:0").exists()
    assert list(BlockedSubmission.objects.all()) == [recent]


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_are_counted_exactly(settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    settings.WEBFORMS_IP_RATE_LIMIT = (5, 600)
    web_form = WebFormFactory()
    results: list[bool] = []
    start = threading.Barrier(20)

    def submit():
        try:
            start.wait()
            results.append(count_submission(web_form=web_form, ip_address="192.0.2.1"))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Exactly five got through: no two submissions read the same count.
    assert sorted(results) == [False] * 5 + [True] * 15
    assert RateLimitBucket.objects.get(key=f"form:{web_form.pk}").hits == 20


@pytest.mark.django_db
def test_a_screened_submission_is_blocked_and_logged_once_per_reason(settings):
    web_form = WebFormFactory(slug="brochure")
    token = RenderToken(slug="brochure", rendered_at=time.time() - 10).sign()
    screen = {
        "web_form": web_form,
        "token_value": token,
        "honeypot": "",
        "origin": "http://testserver",
        "own_origin": "http://testserver",
        "embedded": False,
        "ip_address": "192.0.2.1",
        "user_agent": "Mozilla/5.0",
    }

    assert services.screen_submission(**screen).slug == "brochure"
    with pytest.raises(services.SubmissionBlocked) as blocked:
        services.screen_submission(**{**screen, "honeypot": "x"})

    assert blocked.value.reason == BlockReason.HONEYPOT
    assert BlockedSubmission.objects.get().ip_address == "192.0.2.1"
