"""A person with data in every place Leadladder keeps it: Quirijntje, whose two lead records
were merged, plus Otto, someone else who must survive her erasure."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.utils import timezone

from api.models import IdempotencyKey
from consent.models import ConsentMethod, NoticeVersion, Purpose
from consent.services import ConsentGiven, record_consents
from imports.models import ImportJob, ImportRowError
from leads.models import EventType, Lead, OwnerChange, Stage
from leads.services.merge import merge_leads
from leads.tests.factories import EventFactory, LeadFactory
from scoring import services as scoring_services
from scoring.models import ImpactPreview, LeadScore, StageTransition, VersionStatus
from scoring.tests.factories import CriteriaVersionFactory, CriterionFactory

EMAIL = "quirijntje.zwartvelderink@voorbeeld.nl"
OLD_EMAIL = "q.zwartvelderink@oudadres.nl"
FIRST_NAME = "Quirijntje"
LAST_NAME = "Zwartvelderink"
PHONE = "+31687654321"
OTHER_EMAIL = "otto.overblijver@anderbedrijf.nl"
NOTICE_TEXT = "We bewaren je gegevens om je vraag te beantwoorden (privacytest)."


def confirmation_model():
    """consent.ConsentConfirmation, when the double opt-in work has added it."""
    try:
        return apps.get_model("consent", "ConsentConfirmation")
    except LookupError:
        return None


@dataclass
class Person:
    lead: Lead
    old: Lead
    other: Lead
    job: ImportJob


def _purpose(key: str, text: str) -> Purpose:
    purpose, _created = Purpose.objects.get_or_create(
        key=key, defaults={"name_en": key, "name_nl": key}
    )
    NoticeVersion.objects.get_or_create(
        purpose=purpose, version=1, defaults={"text_en": text, "text_nl": text}
    )
    return purpose


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def person(db, admin_user, sales_rep, media, monkeypatch) -> Person:
    monkeypatch.setattr(scoring_services, "_rules_cache", {})
    _purpose("privacytest_contact", NOTICE_TEXT)
    _purpose("privacytest_marketing", "Nieuwsbrief per e-mail (privacytest).")

    lead = LeadFactory(
        email=EMAIL,
        first_name=FIRST_NAME,
        last_name=LAST_NAME,
        phone=PHONE,
        need="Ons CRM is te traag",
        stage=Stage.SQL,
    )
    old = LeadFactory(email=OLD_EMAIL, first_name=FIRST_NAME, last_name=LAST_NAME, phone=PHONE)
    other = LeadFactory(email=OTHER_EMAIL, first_name="Otto", last_name="Overblijver")
    EventFactory(lead=other)

    EventFactory(lead=lead, url="https://voorbeeld.nl/prijzen", properties={"form": "demo"})
    EventFactory(lead=lead, type=EventType.NOTE, properties={"text": "Belde terug over prijzen"})
    EventFactory(lead=old, properties={"email": OLD_EMAIL})
    evidence = {
        "method": ConsentMethod.WEB_FORM,
        "ip_address": "203.0.113.7",
        "user_agent": "Firefox/privacytest",
        "source": "https://voorbeeld.nl/demo",
        "evidence": "form:demo",
    }
    record_consents(
        subject_id=lead.pk,
        given=[
            ConsentGiven("privacytest_contact", True),
            ConsentGiven("privacytest_marketing", True),
        ],
        **evidence,
    )
    record_consents(
        subject_id=old.pk, given=[ConsentGiven("privacytest_marketing", False)], **evidence
    )
    record_consents(
        subject_id=other.pk,
        given=[ConsentGiven("privacytest_contact", True)],
        **(evidence | {"user_agent": "Chrome/otto"}),
    )
    merge_leads(survivor_id=lead.pk, duplicate_id=old.pk, actor=admin_user)
    if (confirmation := confirmation_model()) is not None:
        notice = NoticeVersion.objects.get(purpose__key="privacytest_marketing")
        for subject in (lead, old, other):
            confirmation.objects.create(
                subject_id=subject.pk,
                purpose=notice.purpose,
                notice=notice,
                method=ConsentMethod.WEB_FORM,
                ip_address="198.51.100.9",
                user_agent="Chrome/otto" if subject is other else "Safari/privacytest-confirmation",
                requested_at=timezone.now(),
                expires_at=timezone.now() + timedelta(days=2),
            )

    version = CriteriaVersionFactory(status=VersionStatus.PUBLISHED)
    CriterionFactory(version=version, name="Pricing page visited", points=20)
    Lead.objects.filter(pk=lead.pk).update(score=20, fit_score=20)
    LeadScore.objects.create(
        lead=lead, version=version.number, points=[20], scored_at=timezone.now()
    )
    StageTransition.objects.create(
        lead=lead,
        from_stage=Stage.MQL,
        to_stage=Stage.SQL,
        actor=sales_rep,
        reason=f"{FIRST_NAME} wil snel starten",
        score=20,
        details={"bant": {"budget": "10k", "authority": "Directeur", "need": "CRM"}},
    )
    OwnerChange.objects.create(lead=lead, to_owner=sales_rep, actor=admin_user, reason="Noord")
    LogEntry.objects.create(
        user=admin_user,
        content_type=ContentType.objects.get_for_model(Lead),
        object_id=str(lead.pk),
        object_repr=f"{FIRST_NAME} {LAST_NAME}",
        action_flag=CHANGE,
    )

    job = ImportJob.objects.create(
        file_name="beurs.csv",
        delimiter=";",
        headers=["email", "first_name", "phone"],
        preview={
            "rows": 3,
            "errors": [
                {"row": 3, "email": EMAIL.upper(), "errors": {"phone": ["Not a phone number"]}},
                {"row": 4, "email": OTHER_EMAIL, "errors": {"phone": ["Not a phone number"]}},
            ],
        },
    )
    job.file.save(
        "beurs.csv",
        ContentFile(
            (
                "email;first_name;phone\r\n"
                f"{EMAIL};{FIRST_NAME};{PHONE}\r\n"
                f"{OTHER_EMAIL};Otto;+31611111111\r\n"
                f"{EMAIL.upper()};{FIRST_NAME};nope\r\n"
            ).encode()
        ),
    )
    ImportRowError.objects.create(job=job, row_number=4, email=f" {EMAIL.upper()} ", errors={})
    ImportRowError.objects.create(job=job, row_number=5, email=OTHER_EMAIL, errors={})
    IdempotencyKey.objects.create(
        user=admin_user,
        key="capture-1",
        fingerprint="0" * 64,
        status_code=201,
        response_body={"id": lead.pk, "email": EMAIL, "first_name": FIRST_NAME},
    )
    IdempotencyKey.objects.create(
        user=admin_user,
        key="capture-2",
        fingerprint="1" * 64,
        status_code=201,
        response_body={"id": other.pk, "email": OTHER_EMAIL},
    )
    ImpactPreview.objects.create(
        version=version,
        result={
            "moves": [
                {
                    "count": 2,
                    "examples": [
                        {"lead_id": lead.pk, "name": f"{FIRST_NAME} {LAST_NAME}"},
                        {"lead_id": other.pk, "name": "Otto Overblijver"},
                    ],
                }
            ]
        },
    )
    lead.refresh_from_db()
    old.refresh_from_db()
    return Person(lead=lead, old=old, other=other, job=job)
