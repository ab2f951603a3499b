"""The page visitors fill in: what it shows, what a submission stores, what bots get."""

import html
import re
import time

import pytest
from django.test import Client
from django.urls import reverse

from consent.models import ConsentMethod, ConsentRecord
from leads.models import Event, EventType, Lead, Source, Stage
from webforms.models import BlockedSubmission, BlockReason
from webforms.services import RenderToken
from webforms.tests.conftest import OUR_ORIGIN
from webforms.tests.factories import NoticeVersionFactory, WebFormFactory

pytestmark = pytest.mark.django_db

SANNE = {
    "email": "Sanne.de.Vries@Bouwbedrijf.NL",
    "first_name": "Sanne",
    "last_name": "de Vries",
    "phone": "06 12345678",
    "company": "Bouwbedrijf De Vries",
    "country": "NL",
    "consent_brochure-contact": "on",
    "consent_brochure-news": "on",
}


def _page(response) -> str:
    return html.unescape(response.content.decode())


def _thanks_url(slug: str = "brochure") -> str:
    return reverse("webforms:thanks", kwargs={"slug": slug})


# --- What the page shows -----------------------------------------------------------------------


def test_the_hosted_form_shows_each_asked_purpose_with_its_exact_english_notice(
    client, brochure_form, contact_notice, newsletter_notice
):
    response = client.get(reverse("webforms:public", kwargs={"slug": "brochure"}))

    page = _page(response)
    assert response.status_code == 200
    assert contact_notice.text_en in page
    assert newsletter_notice.text_en in page
    assert contact_notice.text_nl not in page
    assert response.context["form"].fields["consent_brochure-contact"].required
    assert not response.context["form"].fields["consent_brochure-news"].required


def test_a_visitor_who_switches_to_dutch_sees_the_dutch_notices(
    client, brochure_form, contact_notice, newsletter_notice
):
    url = reverse("webforms:public", kwargs={"slug": "brochure"})
    client.post(reverse("set_language"), {"language": "nl", "next": url})

    response = client.get(url)

    page = _page(response)
    assert '<html lang="nl">' in page
    assert contact_notice.text_nl in page
    assert newsletter_notice.text_nl in page
    assert contact_notice.text_en not in page


def test_an_embedded_form_takes_its_language_from_the_address(
    client, brochure_form, contact_notice
):
    url = reverse("webforms:public", kwargs={"slug": "brochure"})

    response = client.get(url, {"embed": "1", "lang": "nl"})

    assert contact_notice.text_nl in _page(response)
    assert response.headers["Content-Language"] == "nl"
    # Its language links keep it embedded.
    assert f"{url}?embed=1&amp;lang=en" in response.content.decode()


def test_the_form_shows_the_newest_notice_and_its_token_names_that_version(
    client, brochure_form, contact_notice
):
    newer = NoticeVersionFactory(
        purpose=contact_notice.purpose, version=2, text_en="Reworded: we send the brochure."
    )

    response = client.get(reverse("webforms:public", kwargs={"slug": "brochure"}))

    assert newer.text_en in _page(response)
    assert contact_notice.text_en not in _page(response)
    token = RenderToken.read(response.context["token"])
    assert token.notice_ids["brochure-contact"] == newer.pk


def test_every_field_of_the_form_has_a_label(client, brochure_form):
    response = client.get(reverse("webforms:public", kwargs={"slug": "brochure"}))

    content = response.content.decode()
    ids = re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', content)
    assert {"id_email", "id_first_name", "id_phone", "id_consent_brochure-contact"} <= set(ids)
    for input_id in ids:
        assert f'for="{input_id}"' in content, input_id


def test_the_honeypot_is_hidden_from_people_and_their_tools(client, brochure_form):
    response = client.get(reverse("webforms:public", kwargs={"slug": "brochure"}))

    content = response.content.decode()
    wrapper = re.search(
        r'<div[^>]*class="visually-hidden"[^>]*>(.*?)</div>\s*</div>', content, re.S
    )
    assert wrapper and 'aria-hidden="true"' in wrapper.group(0)
    honeypot = re.search(r'<input[^>]*name="website"[^>]*>', content).group(0)
    assert 'tabindex="-1"' in honeypot
    assert 'autocomplete="off"' in honeypot


def test_the_page_needs_no_script_and_has_no_inline_styles(client, brochure_form):
    response = client.get(reverse("webforms:public", kwargs={"slug": "brochure"}))

    content = response.content.decode()
    assert "<script" not in content
    assert "style=" not in content
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in content
    assert 'type="tel"' in content and 'type="email"' in content


def test_an_inactive_form_is_not_found(client, brochure_form, fill_in, no_minimum_fill_time):
    url = reverse("webforms:public", kwargs={"slug": "brochure"})
    page = client.get(url)
    brochure_form.is_active = False
    brochure_form.save()

    assert client.get(url).status_code == 404
    assert client.post(url, {"token": page.context["token"], **SANNE}).status_code == 404
    assert client.get(_thanks_url()).status_code == 404
    assert not Lead.objects.exists()


# --- A valid submission ------------------------------------------------------------------------


def test_a_valid_submission_captures_the_lead_with_its_event_and_consents(
    brochure_form, contact_notice, newsletter_notice, fill_in, no_minimum_fill_time
):
    response = fill_in(
        brochure_form, SANNE, HTTP_USER_AGENT="Mozilla/5.0 (iPhone)", REMOTE_ADDR="203.0.113.7"
    )

    assert response.status_code == 303
    assert response.url == _thanks_url()
    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.phone) == (
        "sanne.de.vries@bouwbedrijf.nl",
        "Sanne",
        "+31612345678",
    )
    assert (lead.source, lead.campaign, lead.utm_source) == (
        Source.WEB_FORM,
        "spring-fair",
        "website",
    )
    event = Event.objects.get(lead=lead)
    assert event.type == EventType.FORM_SUBMISSION
    assert event.properties["form"] == "brochure"
    assert event.url == "http://testserver/f/brochure/"
    records = {r.purpose.key: r for r in ConsentRecord.objects.filter(subject_id=lead.pk)}
    assert set(records) == {"brochure-contact", "brochure-news"}
    contact = records["brochure-contact"]
    assert contact.granted
    assert contact.notice_id == contact_notice.pk
    assert records["brochure-news"].notice_id == newsletter_notice.pk
    assert contact.method == ConsentMethod.WEB_FORM
    assert contact.source == "http://testserver/f/brochure/"
    assert (contact.ip_address, contact.user_agent) == ("203.0.113.7", "Mozilla/5.0 (iPhone)")
    assert contact.evidence == f"event:{event.pk}"
    assert not BlockedSubmission.objects.exists()


def test_the_consent_names_the_notice_shown_even_when_a_newer_one_appeared_meanwhile(
    client, brochure_form, contact_notice, no_minimum_fill_time
):
    url = reverse("webforms:public", kwargs={"slug": "brochure"})
    page = client.get(url)
    NoticeVersionFactory(purpose=contact_notice.purpose, version=2, text_en="Reworded.")

    client.post(url, {"token": page.context["token"], **SANNE}, HTTP_ORIGIN=OUR_ORIGIN)

    record = ConsentRecord.objects.get(purpose=contact_notice.purpose)
    assert record.notice_id == contact_notice.pk


def test_an_unticked_optional_purpose_is_not_recorded(brochure_form, fill_in, no_minimum_fill_time):
    data = {key: value for key, value in SANNE.items() if key != "consent_brochure-news"}

    fill_in(brochure_form, data)

    lead = Lead.objects.get()
    assert list(
        ConsentRecord.objects.filter(subject_id=lead.pk).values_list("purpose__key", flat=True)
    ) == ["brochure-contact"]


def test_a_second_submission_of_the_same_email_adds_an_event_to_the_same_lead(
    brochure_form, fill_in, no_minimum_fill_time
):
    fill_in(brochure_form, SANNE)
    fill_in(brochure_form, {**SANNE, "email": "sanne.de.vries@bouwbedrijf.nl", "company": "Nieuw"})

    lead = Lead.objects.get()
    assert lead.company == "Nieuw"
    assert lead.events.filter(type=EventType.FORM_SUBMISSION).count() == 2
    assert ConsentRecord.objects.filter(subject_id=lead.pk).count() == 4


def test_utm_values_in_the_address_override_the_form_defaults(
    brochure_form, fill_in, no_minimum_fill_time
):
    fill_in(brochure_form, SANNE, query="?utm_source=linkedin&utm_medium=social")

    lead = Lead.objects.get()
    assert (lead.utm_source, lead.utm_medium, lead.campaign) == (
        "linkedin",
        "social",
        "spring-fair",
    )


def test_fields_a_visitor_may_not_set_are_ignored(
    brochure_form, fill_in, no_minimum_fill_time, admin_user
):
    fill_in(
        brochure_form,
        {
            **SANNE,
            "stage": Stage.WON,
            "score": "100",
            "owner": str(admin_user.pk),
            "source": Source.API,
            "campaign": "hijacked",
            "need": "not on this form",
        },
    )

    lead = Lead.objects.get()
    assert (lead.stage, lead.score, lead.owner) == (Stage.CONTACT, 0, None)
    assert (lead.source, lead.campaign, lead.need) == (Source.WEB_FORM, "spring-fair", "")


def test_without_a_redirect_the_visitor_reads_the_thank_you_text_in_their_language(
    client, brochure_form, fill_in, no_minimum_fill_time
):
    response = fill_in(brochure_form, SANNE, query="?embed=1&lang=nl")

    assert response.url == _thanks_url() + "?embed=1&lang=nl"
    thanks = client.get(response.url)
    assert "Bedankt, de brochure komt eraan." in _page(thanks)


def test_a_redirect_goes_only_to_the_configured_address(
    brochure_form, fill_in, no_minimum_fill_time
):
    brochure_form.redirect_url = "https://www.bouwbedrijf.nl/bedankt"
    brochure_form.save()

    response = fill_in(
        brochure_form,
        {**SANNE, "next": "https://evil.example/"},
        query="?next=https://evil.example/",
    )

    assert response.status_code == 303
    assert response.url == "https://www.bouwbedrijf.nl/bedankt"
    assert Lead.objects.count() == 1


def test_the_page_may_post_to_itself_and_on_to_the_redirect_site(client, brochure_form):
    brochure_form.redirect_url = "https://www.bouwbedrijf.nl/bedankt"
    brochure_form.save()

    response = client.get(reverse("webforms:public", kwargs={"slug": "brochure"}))

    form_action = _directive(response, "form-action")
    assert form_action == ["'self'", "https://www.bouwbedrijf.nl"]


# --- Bad input ---------------------------------------------------------------------------------


def test_a_required_purpose_left_unticked_is_refused_with_a_message_and_nothing_saved(
    brochure_form, fill_in, no_minimum_fill_time
):
    data = {key: value for key, value in SANNE.items() if key != "consent_brochure-contact"}

    response = fill_in(brochure_form, data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["consent_brochure-contact"] == [
        "Tick this box to send the form: we need this consent."
    ]
    assert "Tick this box to send the form" in response.content.decode()
    assert (Lead.objects.count(), ConsentRecord.objects.count()) == (0, 0)
    # What was typed stays, and a new token still names the notices shown.
    assert response.context["form"]["first_name"].value() == "Sanne"
    assert set(RenderToken.read(response.context["token"]).notice_ids) == {
        "brochure-contact",
        "brochure-news",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "sanne@"),
        ("email", ""),
        ("phone", "12"),
        ("phone", "not a number"),
        ("country", "Atlantis"),
        ("first_name", "x" * 500),
    ],
)
def test_bad_input_shows_an_error_on_its_field_and_saves_nothing(
    brochure_form, fill_in, no_minimum_fill_time, field, value
):
    response = fill_in(brochure_form, {**SANNE, field: value})

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert "is-invalid" in response.content.decode()
    assert (Lead.objects.count(), Event.objects.count(), ConsentRecord.objects.count()) == (0, 0, 0)
    assert not BlockedSubmission.objects.exists()


def test_a_required_field_of_the_form_must_be_filled_in(
    brochure_form, fill_in, no_minimum_fill_time
):
    brochure_form.required_lead_fields = ["company"]
    brochure_form.save()

    response = fill_in(brochure_form, {**SANNE, "company": ""})

    assert "company" in response.context["form"].errors
    assert not Lead.objects.exists()


# --- Bots --------------------------------------------------------------------------------------


def _assert_blocked(response, reason: BlockReason, *, thanks_url: str = "") -> None:
    # A bot gets what a person gets, the block is logged, and nothing of the data is kept.
    assert response.status_code == 303
    assert response.url == (thanks_url or _thanks_url())
    blocked = BlockedSubmission.objects.get()
    assert blocked.reason == reason
    assert "sanne" not in f"{blocked.ip_address} {blocked.user_agent}".lower()
    assert (Lead.objects.count(), Event.objects.count(), ConsentRecord.objects.count()) == (0, 0, 0)


def test_a_filled_in_honeypot_is_blocked(brochure_form, fill_in, no_minimum_fill_time):
    response = fill_in(brochure_form, {**SANNE, "website": "https://spam.example"})

    _assert_blocked(response, BlockReason.HONEYPOT)


def test_a_submission_faster_than_a_person_can_type_is_blocked(brochure_form, fill_in, settings):
    settings.WEBFORMS_MIN_FILL_SECONDS = 3

    response = fill_in(brochure_form, SANNE, HTTP_USER_AGENT="curl/8.0")

    _assert_blocked(response, BlockReason.TOO_FAST)
    assert BlockedSubmission.objects.get().user_agent == "curl/8.0"


def test_a_submission_after_the_minimum_fill_time_is_taken(client, brochure_form, contact_notice):
    token = RenderToken(
        slug="brochure",
        rendered_at=time.time() - 4,
        notice_ids={"brochure-contact": contact_notice.pk},
    )

    client.post(
        reverse("webforms:public", kwargs={"slug": "brochure"}),
        {"token": token.sign(), **SANNE},
        HTTP_ORIGIN=OUR_ORIGIN,
    )

    assert Lead.objects.count() == 1


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        # A day and a bit old.
        RenderToken(slug="brochure", rendered_at=time.time() - 25 * 3600).sign(),
        # Another form's.
        RenderToken(slug="other-form", rendered_at=time.time() - 60).sign(),
    ],
    ids=["missing", "garbage", "expired", "other-form"],
)
def test_a_missing_expired_or_foreign_token_is_blocked(client, brochure_form, token):
    response = client.post(
        reverse("webforms:public", kwargs={"slug": "brochure"}),
        {"token": token, **SANNE},
        HTTP_ORIGIN=OUR_ORIGIN,
    )

    _assert_blocked(response, BlockReason.BAD_TOKEN)


def test_a_tampered_token_is_blocked(client, brochure_form, no_minimum_fill_time):
    url = reverse("webforms:public", kwargs={"slug": "brochure"})
    token = client.get(url).context["token"]
    # Move the render time back without the key: the signature no longer matches.
    payload, _, signature = token.partition(":")
    tampered = RenderToken(slug="brochure", rendered_at=0).sign().partition(":")[0]

    response = client.post(
        url, {"token": f"{tampered}:{signature}", **SANNE}, HTTP_ORIGIN=OUR_ORIGIN
    )

    assert payload != tampered
    _assert_blocked(response, BlockReason.BAD_TOKEN)


def test_the_eleventh_submission_from_one_address_within_ten_minutes_is_blocked(
    brochure_form, fill_in, no_minimum_fill_time
):
    for n in range(10):
        fill_in(brochure_form, {**SANNE, "email": f"person{n}@example.nl"})

    response = fill_in(brochure_form, {**SANNE, "email": "eleventh@example.nl"})

    assert Lead.objects.count() == 10
    assert BlockedSubmission.objects.get().reason == BlockReason.RATE_LIMITED
    assert response.url == _thanks_url()
    # Another address may still send.
    fill_in(brochure_form, {**SANNE, "email": "other@example.nl"}, REMOTE_ADDR="198.51.100.1")
    assert Lead.objects.count() == 11


def test_a_form_over_its_limit_per_minute_blocks_everyone(
    brochure_form, fill_in, no_minimum_fill_time, settings
):
    settings.WEBFORMS_FORM_RATE_LIMIT = (1, 60)
    fill_in(brochure_form, SANNE, REMOTE_ADDR="198.51.100.1")

    response = fill_in(brochure_form, SANNE, REMOTE_ADDR="198.51.100.2")

    assert Lead.objects.count() == 1
    assert BlockedSubmission.objects.get().reason == BlockReason.RATE_LIMITED
    assert response.status_code == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": "https://evil.example"},
        # Allowed to embed, but this is the hosted page: it posts from our own host only.
        {"HTTP_ORIGIN": "https://www.bouwbedrijf.nl"},
        {"HTTP_ORIGIN": "null", "HTTP_REFERER": "https://evil.example/page"},
        # No browser posts a form without saying where from.
        {},
    ],
    ids=["other-site", "embedding-site-on-hosted-page", "referer", "none"],
)
def test_a_submission_from_a_wrong_origin_is_blocked(
    brochure_form, fill_in, no_minimum_fill_time, headers
):
    response = fill_in(brochure_form, SANNE, origin="", **headers)

    _assert_blocked(response, BlockReason.ORIGIN)


def test_a_submission_without_origin_is_judged_by_its_referer(
    brochure_form, fill_in, no_minimum_fill_time
):
    fill_in(brochure_form, SANNE, origin="", HTTP_REFERER="http://testserver/f/brochure/")

    assert Lead.objects.count() == 1


def test_a_blocked_submission_follows_the_configured_redirect_like_a_real_one(
    brochure_form, fill_in, no_minimum_fill_time
):
    brochure_form.redirect_url = "https://www.bouwbedrijf.nl/bedankt"
    brochure_form.save()

    response = fill_in(brochure_form, {**SANNE, "website": "spam"})

    _assert_blocked(response, BlockReason.HONEYPOT, thanks_url="https://www.bouwbedrijf.nl/bedankt")


# --- Embedding ---------------------------------------------------------------------------------


def _directive(response, name: str) -> list[str]:
    for part in response.headers["Content-Security-Policy"].split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    return []


def test_the_embedded_form_may_be_framed_by_its_allowed_sites_only(client, brochure_form):
    url = reverse("webforms:public", kwargs={"slug": "brochure"})

    response = client.get(url, {"embed": "1"})

    assert _directive(response, "frame-ancestors") == ["'self'", "https://www.bouwbedrijf.nl"]
    assert "X-Frame-Options" not in response.headers
    # The rest of the policy stays strict.
    assert _directive(response, "script-src")[0] == "'self'"
    assert _directive(response, "form-action") == ["'self'"]


def test_the_hosted_form_may_not_be_framed(client, brochure_form):
    response = client.get(reverse("webforms:public", kwargs={"slug": "brochure"}))

    assert response.headers["X-Frame-Options"] == "DENY"
    assert _directive(response, "frame-ancestors") == ["'none'"]


def test_the_embedded_thank_you_page_may_be_framed_too(client, brochure_form):
    response = client.get(_thanks_url(), {"embed": "1"})

    assert _directive(response, "frame-ancestors") == ["'self'", "https://www.bouwbedrijf.nl"]
    assert "X-Frame-Options" not in response.headers


def test_an_embedded_form_sends_without_a_csrf_cookie(brochure_form, no_minimum_fill_time):
    # Third-party cookies are blocked in the iframe: the token and the origin check stand in.
    visitor = Client(enforce_csrf_checks=True)
    url = reverse("webforms:public", kwargs={"slug": "brochure"}) + "?embed=1"
    token = visitor.get(url).context["token"]
    visitor.cookies.clear()

    response = visitor.post(url, {"token": token, **SANNE}, HTTP_ORIGIN=OUR_ORIGIN)

    assert response.status_code == 303
    assert response.url == _thanks_url() + "?embed=1"
    assert Lead.objects.count() == 1
    assert "X-Frame-Options" not in response.headers


def test_an_embedded_form_may_be_posted_from_an_allowed_site(
    brochure_form, fill_in, no_minimum_fill_time
):
    fill_in(brochure_form, SANNE, query="?embed=1", origin="https://www.bouwbedrijf.nl")

    assert Lead.objects.count() == 1


def test_a_form_without_allowed_sites_can_be_framed_by_our_own_pages_only(client):
    WebFormFactory(slug="plain", allowed_origins=[])

    response = client.get(reverse("webforms:public", kwargs={"slug": "plain"}), {"embed": "1"})

    assert _directive(response, "frame-ancestors") == ["'self'"]
