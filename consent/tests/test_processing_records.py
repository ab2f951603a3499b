"""The records of processing: each purpose, its basis, notice, retention and how many people
consent to it now, on a page and as CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from consent.admin_services import active_consent_counts
from consent.models import ConsentMethod, ConsentRecord, NoticeVersion, Purpose
from consent.services import ConsentGiven, record_consents, rewriting_consent_records

pytestmark = pytest.mark.django_db


def _record(subject_id: int, key: str, granted: bool, *, ago: timedelta = timedelta(0)) -> None:
    records = record_consents(
        subject_id=subject_id,
        given=[ConsentGiven(key, granted)],
        method=ConsentMethod.MANUAL,
        source="test",
    )
    if ago:
        with rewriting_consent_records():
            ConsentRecord.objects.filter(pk__in=[r.pk for r in records]).update(
                recorded_at=timezone.now() - ago
            )


def _history() -> None:
    """Subjects 1-5 with several choices each, some recorded out of order in time."""
    _record(1, "marketing_email", True, ago=timedelta(days=3))
    _record(1, "marketing_email", False, ago=timedelta(days=2))
    _record(1, "contact", True)
    _record(2, "marketing_email", False, ago=timedelta(days=5))
    _record(2, "marketing_email", True, ago=timedelta(days=1))
    _record(2, "marketing_email", True)
    # Written last but dated earliest: the latest by time is the grant of yesterday.
    _record(3, "marketing_email", True, ago=timedelta(days=1))
    _record(3, "marketing_email", False, ago=timedelta(days=4))
    _record(4, "contact", False)
    _record(5, "profiling", True)
    _record(5, "contact", True)


def _recomputed() -> dict[int, int]:
    """The same figure the slow, obvious way: each subject's latest record per purpose."""
    latest: dict[tuple[int, int], ConsentRecord] = {}
    for record in ConsentRecord.objects.order_by("recorded_at", "id"):
        latest[(record.subject_id, record.purpose_id)] = record
    counts: dict[int, int] = {}
    for (_subject, purpose_id), record in latest.items():
        if record.granted:
            counts[purpose_id] = counts.get(purpose_id, 0) + 1
    return counts


def test_active_consents_count_subjects_whose_latest_record_is_a_grant():
    _history()
    by_key = {p.pk: p.key for p in Purpose.objects.all()}

    counts = active_consent_counts()

    assert counts == _recomputed()
    assert {by_key[pk]: n for pk, n in counts.items()} == {
        "marketing_email": 2,
        "contact": 2,
        "profiling": 1,
    }


def test_nobody_consenting_counts_nothing():
    assert active_consent_counts() == {}


def test_the_page_shows_each_purpose_with_its_figures(client, admin_user):
    _history()
    marketing = Purpose.objects.get(key="marketing_email")
    NoticeVersion.objects.create(purpose=marketing, version=2, text_en="v2", text_nl="v2")
    client.force_login(admin_user)

    response = client.get(reverse("consent:processing"))

    assert response.status_code == 200
    rows = {p.key: p for p in response.context["purposes"]}
    assert rows["marketing_email"].active_consents == 2
    assert rows["phone_contact"].active_consents == 0
    assert (rows["marketing_email"].current_version, rows["marketing_email"].notice_count) == (
        2,
        2,
    )
    html = response.content.decode()
    assert "version 2 (2 versions)" in html
    assert reverse("consent:processing-export") in html


def _csv(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content if response.streaming else [response.content])
    return list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))


def test_the_export_is_a_csv_with_one_row_per_purpose(client, admin_user):
    _history()
    client.force_login(admin_user)

    response = client.get(reverse("consent:processing-export"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = {row["key"]: row for row in _csv(response)}
    assert set(rows) == set(Purpose.objects.values_list("key", flat=True))
    assert rows["marketing_email"]["active_consents"] == "2"
    assert rows["marketing_email"]["is_marketing"] == "True"
    assert rows["marketing_email"]["legal_basis"] == "consent"
    assert rows["contact"]["current_notice_version"] == "1"


def test_the_export_neutralises_spreadsheet_formulas(client, admin_user):
    purpose = Purpose.objects.create(
        key="evil", name_en='=HYPERLINK("http://x")', name_nl="-2+3", legal_basis="consent"
    )
    NoticeVersion.objects.create(purpose=purpose, version=1, text_en="T", text_nl="T")
    client.force_login(admin_user)

    rows = {row["key"]: row for row in _csv(client.get(reverse("consent:processing-export")))}

    assert rows["evil"]["name_en"] == '\'=HYPERLINK("http://x")'
    assert rows["evil"]["name_nl"] == "'-2+3"


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "no_role_user"])
def test_only_admins_export(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(reverse("consent:processing-export")).status_code == 403


def test_retention_policies_show_per_purpose(client, admin_user):
    try:
        policy_model = apps.get_model("retention", "RetentionPolicy")
    except LookupError:
        pytest.skip("no retention policies yet")
    marketing = Purpose.objects.get(key="marketing_email")
    policy_model.objects.create(
        name="Withdrew marketing", applies_to="withdrawn_purpose", purpose=marketing, months=1
    )
    policy_model.objects.create(name="Dormant leads", applies_to="contacts", months=6)
    policy_model.objects.create(
        name="Switched off", applies_to="contacts", months=3, is_active=False
    )
    client.force_login(admin_user)

    response = client.get(reverse("consent:processing"))

    rows = {
        p.key: [policy.name for policy in p.applicable_policies]
        for p in response.context["purposes"]
    }
    assert "Withdrew marketing" in rows["marketing_email"]
    assert "Withdrew marketing" not in rows["contact"]
    assert "Dormant leads" in rows["marketing_email"] and "Dormant leads" in rows["contact"]
    assert not any("Switched off" in names for names in rows.values())
    exported = {row["key"]: row for row in _csv(client.get(reverse("consent:processing-export")))}
    assert exported["marketing_email"]["retention"].startswith("Withdrew marketing (1 month); ")
    assert "Dormant leads (6 months)" in exported["marketing_email"]["retention"]
