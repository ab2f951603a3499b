"""`{% consent_panel subject_id %}`: consent per purpose and the full history of one subject."""

import re
from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from consent.models import ConsentMethod, ConsentRecord, NoticeVersion, Purpose
from consent.services import ConsentGiven, record_consents, rewriting_consent_records

pytestmark = pytest.mark.django_db

SUBJECT = 4242


def _render(subject_id: int = SUBJECT) -> str:
    return Template("{% load consent_tags %}{% consent_panel subject_id %}").render(
        Context({"subject_id": subject_id})
    )


def _status_rows(html: str) -> dict[str, str]:
    """Purpose name -> the text of its row in the status table."""
    table = html.split('class="table table-sm mb-2 consent-status"', 1)[1].split("</table>")[0]
    rows = {}
    for row in table.split("<tbody>", 1)[1].split("<tr>")[1:]:
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
        name = next(p.name_en for p in Purpose.objects.all() if text.startswith(p.name_en))
        rows[name] = text
    return rows


def _record(key: str, granted: bool, *, method=ConsentMethod.WEB_FORM, ago=timedelta(0)):
    (record,) = record_consents(
        subject_id=SUBJECT, given=[ConsentGiven(key, granted)], method=method, source="test"
    )
    with rewriting_consent_records():
        ConsentRecord.objects.filter(pk=record.pk).update(recorded_at=timezone.now() - ago)
    return record


def test_each_active_purpose_shows_granted_withdrawn_or_never_asked():
    _record("marketing_email", True, ago=timedelta(days=2))
    _record("marketing_email", False, method=ConsentMethod.PREFERENCE_PAGE, ago=timedelta(days=1))
    _record("contact", True, method=ConsentMethod.VERBAL)

    rows = _status_rows(_render())

    assert "Withdrawn" in rows["Newsletter and offers by e-mail"]
    assert "Preference page" in rows["Newsletter and offers by e-mail"]
    assert "Granted" in rows["Contact about my request"]
    assert "Verbal, recorded by a user" in rows["Contact about my request"]
    assert "notice version 1" in rows["Contact about my request"]
    assert "Never asked" in rows["Contact by phone"]
    assert "Never asked" in rows["Personalisation based on my behaviour"]


def test_the_status_names_the_notice_version_the_person_agreed_to():
    purpose = Purpose.objects.get(key="contact")
    NoticeVersion.objects.create(purpose=purpose, version=2, text_en="v2", text_nl="v2")
    _record("contact", True)

    assert "notice version 2" in _status_rows(_render())["Contact about my request"]


def test_a_purpose_no_longer_asked_still_shows_the_choice_made():
    _record("phone_contact", True)
    Purpose.objects.filter(key="phone_contact").update(is_active=False)

    rows = _status_rows(_render())

    assert "Granted" in rows["Contact by phone"] and "no longer asked" in rows["Contact by phone"]


def test_the_full_history_is_folded_away_newest_first():
    _record("marketing_email", True, ago=timedelta(days=2))
    _record("marketing_email", False, ago=timedelta(days=1))
    _record("contact", True)

    html = _render()

    history = html.split("<details", 1)[1]
    assert "Consent history (3 records)" in history
    assert "<summary>" in history
    rows = history.split("<tbody>", 1)[1].split("<tr>")[1:]
    assert ["Contact" in rows[0], "Withdrawn" in rows[1], "Granted" in rows[2]] == [True] * 3


def test_someone_never_asked_has_no_history():
    html = _render()

    assert "<details" not in html
    assert "No consent was ever recorded for this person." in html


def test_another_subjects_records_are_not_shown():
    record_consents(
        subject_id=SUBJECT + 1, given=[ConsentGiven("contact", True)], method=ConsentMethod.API
    )

    assert "Never asked" in _status_rows(_render())["Contact about my request"]
