"""Signed links a data subject follows without logging in: confirm, withdraw, preferences.

A GET changes nothing (mail scanners fetch links); the POST acts. Tampered links get 400,
expired or used-up links and erased people 410, and none of them change anything.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent import confirmation as confirmations
from consent import links
from consent.models import ClosedReason, ConsentConfirmation, ConsentMethod, ConsentRecord
from consent.services import ConsentGiven, has_consent, record_consents
from consent.tests.doi import DOI_PURPOSE, ask, link_in, require_double_opt_in, send
from leads.models import Lead
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead():
    require_double_opt_in()
    return LeadFactory(email="carla@example.nl")


@pytest.fixture
def csrf_client():
    """A browser: CSRF is checked as it is for real visitors."""
    return Client(enforce_csrf_checks=True)


def _grant(lead, key: str, method=ConsentMethod.VERBAL):
    record_consents(subject_id=lead.pk, given=[ConsentGiven(key, True)], method=method)


def _post_with_csrf(client: Client, path: str, data: dict | None = None):
    """GET the page (which sets the CSRF cookie), then POST its form with the token."""
    client.get(path)
    token = client.cookies["csrftoken"].value
    return client.post(path, {"csrfmiddlewaretoken": token, **(data or {})})


def _tampered(token: str) -> str:
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


# --- Confirm -----------------------------------------------------------------------------------


def test_the_whole_double_opt_in_flow_from_request_to_record(lead, csrf_client):
    message = send(ask(lead.pk))
    confirm = link_in(message, "confirm")

    page = csrf_client.get(confirm)
    assert page.status_code == 200
    assert "Confirm your consent" in page.text and "<form" in page.text
    assert not ConsentRecord.objects.exists(), "a GET must not confirm (mail scanners)"

    response = _post_with_csrf(csrf_client, confirm)

    assert response.status_code == 200 and "Thank you, confirmed" in response.text
    record = ConsentRecord.objects.get()
    assert record.method == ConsentMethod.DOUBLE_OPT_IN and record.granted
    assert has_consent(lead.pk, DOI_PURPOSE)


def test_a_used_confirm_link_says_already_confirmed(lead, client):
    token = links.confirmation_token(ask(lead.pk).pk)
    path = reverse("consent_public:confirm", args=[token])
    client.post(path)

    again = client.post(path)

    assert again.status_code == 410 and "Already confirmed" in again.text
    assert client.get(path).status_code == 410
    assert ConsentRecord.objects.count() == 1


def test_a_tampered_confirm_link_is_refused(lead, client):
    token = links.confirmation_token(ask(lead.pk).pk)

    for bad in (_tampered(token), "nonsense", links.withdrawal_token(lead.pk)):
        path = reverse("consent_public:confirm", args=[bad])
        assert client.get(path).status_code == 400
        response = client.post(path)
        assert response.status_code == 400 and "This link does not work" in response.text
    assert not ConsentRecord.objects.exists()


def test_a_link_to_a_request_that_no_longer_exists_is_refused(lead, client):
    path = reverse("consent_public:confirm", args=[links.confirmation_token(999_999)])

    assert client.get(path).status_code == 400


def test_a_confirm_post_needs_the_csrf_token(lead, csrf_client):
    path = reverse("consent_public:confirm", args=[links.confirmation_token(ask(lead.pk).pk)])

    assert csrf_client.post(path).status_code == 403
    assert not ConsentRecord.objects.exists()


def _expire(confirmation):
    ConsentConfirmation.objects.filter(pk=confirmation.pk).update(
        requested_at=timezone.now() - timedelta(days=8),
        expires_at=timezone.now() - timedelta(days=1),
    )


def test_an_expired_confirm_link_offers_a_new_one(lead, client):
    confirmation = ask(lead.pk)
    _expire(confirmation)
    path = reverse("consent_public:confirm", args=[links.confirmation_token(confirmation.pk)])

    page = client.get(path)
    assert page.status_code == 410 and "Send me a new link" in page.text
    assert client.post(path).status_code == 410
    assert not ConsentRecord.objects.exists()

    resent = client.post(
        reverse("consent_public:resend", args=[links.confirmation_token(confirmation.pk)])
    )

    assert resent.status_code == 200 and "A new link is on its way" in resent.text
    new = ConsentConfirmation.objects.open().exclude(pk=confirmation.pk).get()
    message = send(new)
    assert message.to == ["carla@example.nl"]
    assert client.post(link_in(message, "confirm")).status_code == 200
    assert has_consent(lead.pk, DOI_PURPOSE)


def test_send_me_a_new_link_is_rate_limited(lead, client):
    confirmation = ask(lead.pk)
    for _attempt in range(confirmations.LINKS_PER_DAY - 1):
        confirmation = confirmations.resend(confirmation_id=confirmation.pk)
    _expire(confirmation)
    ConsentConfirmation.objects.update(requested_at=timezone.now())  # all today

    response = client.post(
        reverse("consent_public:resend", args=[links.confirmation_token(confirmation.pk)])
    )

    assert response.status_code == 429 and "Too many links" in response.text
    assert ConsentConfirmation.objects.count() == confirmations.LINKS_PER_DAY


def test_send_me_a_new_link_only_for_an_expired_one(lead, client):
    token = links.confirmation_token(ask(lead.pk).pk)
    client.post(reverse("consent_public:confirm", args=[token]))

    response = client.post(reverse("consent_public:resend", args=[token]))

    assert response.status_code == 410 and ConsentConfirmation.objects.count() == 1
    assert client.post(reverse("consent_public:resend", args=["forged"])).status_code == 400


def test_a_superseded_confirm_link_points_to_the_newer_mail(lead, client):
    old = ask(lead.pk)
    ask(lead.pk)

    response = client.post(
        reverse("consent_public:confirm", args=[links.confirmation_token(old.pk)])
    )

    assert response.status_code == 410 and "A newer link was sent" in response.text
    assert not ConsentRecord.objects.exists()


def test_an_erased_person_gets_a_clear_page_from_a_confirm_link(lead, client):
    token = links.confirmation_token(ask(lead.pk).pk)
    Lead.objects.filter(pk=lead.pk).delete()

    response = client.post(reverse("consent_public:confirm", args=[token]))

    assert response.status_code == 410 and "We hold no data about you" in response.text
    assert not ConsentRecord.objects.exists()


def test_the_confirm_page_speaks_dutch_after_the_language_switch(lead, client):
    path = reverse("consent_public:confirm", args=[links.confirmation_token(ask(lead.pk).pk)])
    client.post(reverse("set_language"), {"language": "nl", "next": path})

    page = client.get(path)

    assert '<html lang="nl">' in page.text
    assert "Ja, stuur mij de nieuwsbrief" in page.text


# --- Withdraw ----------------------------------------------------------------------------------


def test_withdrawal_takes_effect_at_once(lead, csrf_client):
    _grant(lead, DOI_PURPOSE)
    path = reverse("consent_public:withdraw", args=[links.withdrawal_token(lead.pk, DOI_PURPOSE)])

    page = csrf_client.get(path)
    assert page.status_code == 200 and "Withdraw" in page.text
    assert has_consent(lead.pk, DOI_PURPOSE), "a GET must not withdraw"

    response = _post_with_csrf(csrf_client, path)

    assert response.status_code == 200 and "Withdrawn" in response.text
    assert not has_consent(lead.pk, DOI_PURPOSE)
    record = ConsentRecord.objects.latest("id")
    assert (record.granted, record.method, record.source) == (
        False,
        ConsentMethod.PREFERENCE_PAGE,
        "withdrawal link",
    )


def test_a_withdrawal_already_in_effect_writes_no_new_record(lead, client):
    _grant(lead, DOI_PURPOSE)
    path = reverse("consent_public:withdraw", args=[links.withdrawal_token(lead.pk, DOI_PURPOSE)])
    client.post(path)
    records = ConsentRecord.objects.count()

    again = client.post(path)

    assert again.status_code == 200 and "Already withdrawn" in again.text
    assert "Already withdrawn" in client.get(path).text
    assert ConsentRecord.objects.count() == records


def test_the_marketing_link_withdraws_every_marketing_purpose_and_nothing_else(lead, client):
    for key in ("marketing_email", "phone_contact", "contact"):
        _grant(lead, key)
    path = links.withdrawal_url(lead.pk).removeprefix("http://127.0.0.1:8000")

    response = client.post(path)

    assert response.status_code == 200
    assert not has_consent(lead.pk, "marketing_email")
    assert not has_consent(lead.pk, "phone_contact")
    assert has_consent(lead.pk, "contact")


def test_withdrawing_a_pending_grant_closes_its_request(lead, client):
    confirmation = ask(lead.pk)
    path = reverse("consent_public:withdraw", args=[links.withdrawal_token(lead.pk, DOI_PURPOSE)])

    client.post(path)

    confirmation.refresh_from_db()
    assert confirmation.closed_reason == ClosedReason.WITHDRAWN
    confirm = client.post(
        reverse("consent_public:confirm", args=[links.confirmation_token(confirmation.pk)])
    )
    assert confirm.status_code == 410 and not has_consent(lead.pk, DOI_PURPOSE)
    assert "You withdrew this consent" in confirm.text


def test_rfc_8058_one_click_post_withdraws_without_a_csrf_token(lead, csrf_client):
    _grant(lead, DOI_PURPOSE)
    message = send(ask(LeadFactory().pk))  # any mail: the header's form is what counts
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = reverse("consent_public:withdraw", args=[links.withdrawal_token(lead.pk, DOI_PURPOSE)])

    response = csrf_client.post(path, {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert not has_consent(lead.pk, DOI_PURPOSE)
    assert ConsentRecord.objects.latest("id").source == "one-click unsubscribe (RFC 8058)"


def test_the_one_click_link_in_the_mail_withdraws_its_purpose(lead, csrf_client):
    message = send(ask(lead.pk))
    csrf_client.post(link_in(message, "confirm"))  # CSRF refused: nothing confirmed
    confirmations.confirm(links.confirmation_token(ConsentConfirmation.objects.get().pk))
    assert has_consent(lead.pk, DOI_PURPOSE)

    csrf_client.post(link_in(message, "withdraw"), {"List-Unsubscribe": "One-Click"})

    assert not has_consent(lead.pk, DOI_PURPOSE)


def test_a_withdrawal_post_without_csrf_token_or_one_click_body_is_refused(lead, csrf_client):
    _grant(lead, DOI_PURPOSE)
    path = reverse("consent_public:withdraw", args=[links.withdrawal_token(lead.pk, DOI_PURPOSE)])

    for body in ({}, {"List-Unsubscribe": "Something-Else"}):
        assert csrf_client.post(path, body).status_code == 403
    assert has_consent(lead.pk, DOI_PURPOSE)


def test_tampered_withdrawal_links_change_nothing(lead, client):
    _grant(lead, DOI_PURPOSE)
    token = links.withdrawal_token(lead.pk, DOI_PURPOSE)

    tampered = client.post(reverse("consent_public:withdraw", args=[_tampered(token)]))
    other_kind = client.post(
        reverse("consent_public:withdraw", args=[links.preferences_token(lead.pk)])
    )

    assert tampered.status_code == 400 and other_kind.status_code == 400
    assert has_consent(lead.pk, DOI_PURPOSE)


def test_a_withdrawal_link_from_a_mail_of_years_ago_still_withdraws(lead, client, settings):
    """Withdrawing must stay as easy as giving: the link only takes consent away, so it
    never expires, one-click unsubscribe from an old mail included."""
    _grant(lead, DOI_PURPOSE)
    token = links.withdrawal_token(lead.pk, DOI_PURPOSE)
    settings.CONSENT_LINK_DAYS = -1

    response = client.post(
        reverse("consent_public:withdraw", args=[token]), {"List-Unsubscribe": "One-Click"}
    )

    assert response.status_code < 400
    assert not has_consent(lead.pk, DOI_PURPOSE)


def test_a_withdrawal_link_of_an_erased_person_gets_410(lead, client):
    _grant(lead, DOI_PURPOSE)
    path = reverse("consent_public:withdraw", args=[links.withdrawal_token(lead.pk)])
    Lead.objects.filter(pk=lead.pk).delete()

    for response in (client.get(path), client.post(path, {"List-Unsubscribe": "One-Click"})):
        assert response.status_code == 410 and "We hold no data about you" in response.text
    assert ConsentRecord.objects.count() == 1


def test_a_link_of_a_merged_away_lead_acts_on_the_survivor(lead, client):
    from consent.services import move_subject

    survivor = LeadFactory()
    _grant(lead, DOI_PURPOSE)
    move_subject(from_subject_id=lead.pk, to_subject_id=survivor.pk)
    Lead.objects.filter(pk=lead.pk).update(merged_into=survivor)

    client.post(reverse("consent_public:withdraw", args=[links.withdrawal_token(lead.pk)]))

    assert not has_consent(survivor.pk, DOI_PURPOSE)


def test_links_are_absolute_from_site_url(lead, settings):
    settings.SITE_URL = "https://crm.example.nl/"

    assert links.withdrawal_url(lead.pk).startswith("https://crm.example.nl/c/withdraw/")
    assert links.preferences_url(lead.pk).startswith("https://crm.example.nl/c/preferences/")
    confirmation = ask(lead.pk)
    assert links.confirmation_url(confirmation).startswith("https://crm.example.nl/c/confirm/")


def test_each_kind_of_token_reads_only_as_its_own_kind(lead):
    withdrawal = links.withdrawal_token(lead.pk, "contact")

    assert links.read_withdrawal_token(withdrawal) == links.WithdrawalLink(lead.pk, "contact")
    assert links.read_withdrawal_token(links.withdrawal_token(lead.pk)).purpose_key is None
    assert links.read_preferences_token(links.preferences_token(lead.pk)) == lead.pk
    for read in (links.read_preferences_token, links.read_confirmation_token):
        with pytest.raises(links.BadLink):
            read(withdrawal)


# --- The preference page -----------------------------------------------------------------------


def _preferences(lead) -> str:
    return reverse("consent_public:preferences", args=[links.preferences_token(lead.pk)])


def test_the_preference_page_lists_each_purpose_with_status_and_notice(lead, client):
    _grant(lead, "contact")
    ask(lead.pk)

    page = client.get(_preferences(lead))

    assert page.status_code == 200
    text = page.text
    assert "Contact about my request" in text and "Contact by phone" in text
    assert "Awaiting your confirmation" in text and "Granted" in text and "Not given" in text
    assert "Every e-mail has a link to unsubscribe." in text  # the current notice


def test_a_grant_on_the_preference_page_needs_no_further_mail(lead, csrf_client):
    confirmation = ask(lead.pk)
    notice = confirmation.notice
    path = _preferences(lead)

    response = _post_with_csrf(
        csrf_client, path, {"purpose": DOI_PURPOSE, "choice": "grant", "notice": notice.pk}
    )

    assert response.status_code == 303
    record = ConsentRecord.objects.get()
    assert (record.method, record.notice, record.granted) == (
        ConsentMethod.PREFERENCE_PAGE,
        notice,
        True,
    )
    assert has_consent(lead.pk, DOI_PURPOSE)
    confirmation.refresh_from_db()
    assert confirmation.closed_reason == ClosedReason.GRANTED
    assert send(confirmation) is None and not mail.outbox
    assert "Thank you. Granted" in csrf_client.get(path).text


def test_a_withdrawal_on_the_preference_page_takes_effect_at_once(lead, client):
    _grant(lead, "phone_contact")

    response = client.post(_preferences(lead), {"purpose": "phone_contact", "choice": "withdraw"})

    assert response.status_code == 303
    assert not has_consent(lead.pk, "phone_contact")
    assert ConsentRecord.objects.latest("id").method == ConsentMethod.PREFERENCE_PAGE


def test_repeating_a_choice_on_the_preference_page_writes_nothing(lead, client):
    _grant(lead, "contact")

    client.post(_preferences(lead), {"purpose": "contact", "choice": "grant"})
    client.post(_preferences(lead), {"purpose": "phone_contact", "choice": "withdraw"})

    assert ConsentRecord.objects.count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"purpose": "nonsense", "choice": "grant"},
        {"purpose": "contact", "choice": "maybe"},
        {"purpose": "contact"},
        {"purpose": "contact", "choice": "grant", "notice": "abc"},
        {"choice": "grant"},
    ],
)
def test_bad_input_on_the_preference_page_changes_nothing(lead, client, data):
    response = client.post(_preferences(lead), data)

    assert response.status_code == 400 and "Nothing was changed" in response.text
    assert not ConsentRecord.objects.exists()


def test_a_notice_of_another_purpose_is_refused(lead, client):
    from consent.models import Purpose

    other = Purpose.objects.get(key="contact").current_notice()

    response = client.post(
        _preferences(lead), {"purpose": DOI_PURPOSE, "choice": "grant", "notice": other.pk}
    )

    assert response.status_code == 400 and not ConsentRecord.objects.exists()


def test_a_switched_off_purpose_cannot_be_granted_but_can_be_withdrawn(lead, client):
    from consent.models import Purpose

    _grant(lead, "phone_contact")
    Purpose.objects.filter(key="phone_contact").update(is_active=False)

    refused = client.post(_preferences(lead), {"purpose": "phone_contact", "choice": "grant"})
    withdrawn = client.post(_preferences(lead), {"purpose": "phone_contact", "choice": "withdraw"})

    assert refused.status_code == 400 and withdrawn.status_code == 303
    assert not has_consent(lead.pk, "phone_contact")


def test_tampered_expired_and_erased_preference_links(lead, client, settings):
    token = links.preferences_token(lead.pk)

    assert (
        client.get(reverse("consent_public:preferences", args=[_tampered(token)])).status_code
        == 400
    )
    Lead.objects.filter(pk=lead.pk).delete()
    assert client.get(reverse("consent_public:preferences", args=[token])).status_code == 410
    settings.CONSENT_LINK_DAYS = -1
    expired = client.post(
        reverse("consent_public:preferences", args=[token]),
        {"purpose": "contact", "choice": "grant"},
    )
    assert expired.status_code == 410 and not ConsentRecord.objects.exists()
