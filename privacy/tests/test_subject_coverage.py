"""Places a person's data lives beyond the lead itself: double opt-in requests in the outbox,
sales activities and tasks, refused import rows, and the funnel's read model."""

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from activities.models import Activity, Task
from consent.models import ConsentMethod, Purpose
from consent.services import ConsentGiven
from funnel import metrics
from funnel.models import FunnelFact, FunnelMonthFact, FunnelRejection, LeadMilestone
from leads.models import EventType, Lead, Source, Stage
from leads.services.capture import CONFIRMATION_TASK, CaptureContext, capture_lead
from leads.tests.factories import LeadFactory
from outbox.models import OutboxMessage
from outbox.services import request_task
from privacy import services
from privacy.tests.conftest import EMAIL, OLD_EMAIL, OTHER_EMAIL
from scoring.models import StageTransition

pytestmark = pytest.mark.django_db

DOI_EMAIL = "dubbel.optin@voorbeeld.nl"
IP = "203.0.113.77"
UA = "Mozilla/5.0 privacytest-doi-agent"


def _open(content: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(content))


def _rows(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


def _capture_with_doi(email: str) -> Lead:
    context = CaptureContext(
        channel=Source.WEB_FORM,
        event_type=EventType.FORM_SUBMISSION,
        consent_method=ConsentMethod.WEB_FORM,
        consent_source=f"https://voorbeeld.nl/form?email={email}",
        ip_address=IP,
        user_agent=UA,
    )
    result = capture_lead(
        data={"email": email, "first_name": "Dorien"},
        context=context,
        consents=[ConsentGiven("marketing_email", True)],
    )
    return Lead.objects.get(pk=result.lead_id)


# --- Outbox ------------------------------------------------------------------------------------


def test_erasure_deletes_the_double_opt_in_requests_holding_the_consent_evidence(admin_user):
    Purpose.objects.filter(key="marketing_email").update(requires_double_opt_in=True)
    lead = _capture_with_doi(DOI_EMAIL)
    other = _capture_with_doi(OTHER_EMAIL)
    # One already handed to the broker: the relay keeps published rows for a while.
    OutboxMessage.objects.filter(task=CONFIRMATION_TASK, args__0=lead.pk).update(
        published_at=timezone.now()
    )
    request_task(CONFIRMATION_TASK, lead.pk, "marketing_email", None, "web_form", "", IP, UA, "")
    assert OutboxMessage.objects.filter(task=CONFIRMATION_TASK, args__0=lead.pk).count() == 2

    log = services.erase_subject(lead=lead, actor=admin_user, reason="request", channel="web")

    left = [m.args for m in OutboxMessage.objects.all() if DOI_EMAIL in json.dumps(m.args)]
    assert left == []
    assert not OutboxMessage.objects.filter(task=CONFIRMATION_TASK, args__0=lead.pk).exists()
    assert log.counts["outbox_messages"] == 2
    # Someone else's request, and the re-score request (ids only), stay.
    assert OutboxMessage.objects.filter(task=CONFIRMATION_TASK, args__0=other.pk).count() == 1
    assert OutboxMessage.objects.filter(dedupe_key=f"rescore:{lead.pk}").exists()


def test_no_trace_of_the_evidence_is_left_in_the_outbox(admin_user):
    Purpose.objects.filter(key="marketing_email").update(requires_double_opt_in=True)
    lead = _capture_with_doi(DOI_EMAIL)

    services.erase_subject(lead=lead, actor=admin_user, reason="request", channel="web")

    dumped = json.dumps(list(OutboxMessage.objects.values_list("args", flat=True)))
    assert IP not in dumped and UA not in dumped and DOI_EMAIL not in dumped


# --- Activities and tasks ----------------------------------------------------------------------


def test_export_holds_the_sales_activities_and_tasks_of_every_lead_of_the_person(
    person, admin_user, sales_rep
):
    Activity.objects.create(
        lead=person.lead,
        kind="call",
        outcome="reached",
        notes="Spoke about her divorce",
        actor=sales_rep,
    )
    Activity.objects.create(lead=person.old, kind="email", outcome="sent", notes="Brochure")
    Task.objects.create(
        lead=person.lead, title="Call back Tuesday", due_at=timezone.now(), assignee=sales_rep
    )
    Activity.objects.create(lead=person.other, kind="call", outcome="reached", notes="Otto's")
    Task.objects.create(lead=person.other, title="Otto's task", due_at=timezone.now())

    archive = _open(services.export_subject(lead=person.lead, actor=admin_user, channel="web"))

    document = json.loads(archive.read("subject.json"))
    assert {row["notes"] for row in document["activities"]} == {
        "Spoke about her divorce",
        "Brochure",
    }
    assert document["activities"][0]["actor_username"] == sales_rep.username
    assert [row["title"] for row in document["tasks"]] == ["Call back Tuesday"]
    assert document["tasks"][0]["assignee_username"] == sales_rep.username
    assert len(_rows(archive, "activities.csv")) == 2
    assert _rows(archive, "tasks.csv")[0]["title"] == "Call back Tuesday"
    assert "activities.csv" in archive.read("README.txt").decode()
    text = "".join(archive.read(name).decode() for name in archive.namelist())
    assert "Otto's" not in text


def test_erasure_removes_the_activities_and_tasks_and_keeps_everyone_elses(person, admin_user):
    Activity.objects.create(lead=person.lead, kind="call", outcome="reached", notes="Hers")
    Activity.objects.create(lead=person.old, kind="meeting", outcome="held", notes="Old")
    Task.objects.create(lead=person.lead, title="Her task", due_at=timezone.now())
    Activity.objects.create(lead=person.other, kind="call", outcome="reached", notes="Otto's")
    Task.objects.create(lead=person.other, title="Otto's task", due_at=timezone.now())

    log = services.erase_subject(lead=person.lead, actor=admin_user, reason="r", channel="web")

    assert list(Activity.objects.values_list("notes", flat=True)) == ["Otto's"]
    assert list(Task.objects.values_list("title", flat=True)) == ["Otto's task"]
    assert (log.counts["activities"], log.counts["tasks"]) == (2, 1)


# --- Imports -----------------------------------------------------------------------------------


def test_export_holds_the_refused_import_rows_and_check_results_erasure_removes(person, admin_user):
    archive = _open(services.export_subject(lead=person.lead, actor=admin_user, channel="web"))

    document = json.loads(archive.read("subject.json"))
    assert [row["row_number"] for row in document["import_row_errors"]] == [4]
    assert document["import_row_errors"][0]["file_name"] == "beurs.csv"
    assert [(row["job_id"], row["row"]) for row in document["import_preview_rows"]] == [
        (person.job.pk, 3)
    ]
    assert document["import_preview_rows"][0]["errors"] == {"phone": ["Not a phone number"]}
    assert len(_rows(archive, "import_row_errors.csv")) == 1
    assert _rows(archive, "import_preview_rows.csv")[0]["row"] == "3"
    for name in archive.namelist():
        assert OTHER_EMAIL.encode() not in archive.read(name)

    # What the export shows is what erasure takes away.
    log = services.erase_subject(lead=person.lead, actor=admin_user, reason="r", channel="web")
    assert log.counts["import_row_errors"] == len(document["import_row_errors"])
    assert log.counts["import_preview_rows"] == len(document["import_preview_rows"])


def test_the_export_counts_the_new_tables(person, admin_user):
    services.export_subject(lead=person.lead, actor=admin_user, channel="web")

    counts = services.SubjectRequest.objects.get().counts
    assert counts["import_row_errors"] == 1
    assert counts["import_preview_rows"] == 1
    assert counts["activities"] == counts["tasks"] == 0


# --- Funnel read model -------------------------------------------------------------------------


def _facts() -> tuple[list, list]:
    day = FunnelFact.objects.filter(count__gt=0).order_by(*FACT_KEY)
    month = FunnelMonthFact.objects.filter(count__gt=0).order_by(*MONTH_KEY)
    return list(day.values_list(*FACT_KEY, "count")), list(month.values_list(*MONTH_KEY, "count"))


FACT_KEY = ["kind", "day", "stage", "source", "campaign", "owner_id", "days"]
MONTH_KEY = ["kind", "month", "stage", "source", "campaign", "owner_id", "days"]


def test_erasure_deletes_the_funnel_rows_and_takes_them_out_of_the_counts(person, admin_user):
    past = timezone.now() - timedelta(days=40)
    Lead.objects.filter(pk=person.lead.pk).update(created_at=past, stage=Stage.NURTURE)
    StageTransition.objects.filter(lead=person.lead).update(occurred_at=past + timedelta(days=1))
    rejected = StageTransition.objects.create(
        lead=person.lead,
        from_stage=Stage.MQL,
        to_stage=Stage.NURTURE,
        reason="",
        score=20,
        details={"rejection": "not_ready"},
    )
    StageTransition.objects.filter(pk=rejected.pk).update(occurred_at=past + timedelta(days=2))
    other = LeadFactory(email="derde@voorbeeld.nl", stage=Stage.MQL)
    metrics.rebuild_read_model()
    ids = [person.lead.pk, person.old.pk]
    assert LeadMilestone.objects.filter(lead_id=person.lead.pk).exists()
    assert FunnelRejection.objects.filter(lead_id=person.lead.pk).exists()

    log = services.erase_subject(lead=person.lead, actor=admin_user, reason="r", channel="web")

    assert not LeadMilestone.objects.filter(lead_id__in=ids).exists()
    assert not FunnelRejection.objects.filter(lead_id__in=ids).exists()
    assert LeadMilestone.objects.filter(lead_id=other.pk).exists()
    assert log.counts["funnel_milestones"] == 1
    assert log.counts["funnel_rejections"] == 1
    # The counts are those of a database that never held the person: no drift.
    after_erasure = _facts()
    metrics.refresh_read_model()
    assert _facts() == after_erasure
    metrics.rebuild_read_model()
    assert _facts() == after_erasure


def test_erasure_before_any_refresh_leaves_the_funnel_alone(person, admin_user):
    log = services.erase_subject(lead=person.lead, actor=admin_user, reason="r", channel="web")

    assert "funnel_milestones" not in log.counts
    assert not LeadMilestone.objects.exists()


def test_the_export_and_erasure_cover_every_address_of_the_person(person, admin_user):
    # The merged-away lead's address is the person's too: the same matching applies.
    assert OLD_EMAIL != EMAIL
    services.erase_subject(lead=person.lead, actor=admin_user, reason="r", channel="web")
    assert services.is_suppressed(OLD_EMAIL) and services.is_suppressed(EMAIL)
