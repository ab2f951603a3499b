import threading
from decimal import Decimal

import pytest
from django.db import connection

from consent.models import ConsentMethod, ConsentRecord, NoticeVersion, Purpose
from leads.models import Event, EventType, Lead, Source, Stage
from leads.services import capture as capture_module
from leads.services.capture import (
    CaptureContext,
    CaptureRejected,
    ConsentGiven,
    capture_lead,
)
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db

API = CaptureContext(channel=Source.API, consent_method=ConsentMethod.API)


@pytest.fixture(params=["single statement", "orm steps"])
def implementation(request, monkeypatch):
    """Run each test through both ways of writing a capture (PostgreSQL and portable)."""
    if request.param == "single statement":
        if connection.vendor != "postgresql":
            pytest.skip("the single-statement capture is PostgreSQL's")
    else:
        monkeypatch.setattr(capture_module, "_single_statement_capture", lambda: False)
    return request.param


def counts() -> tuple[int, int, int, int]:
    return (
        Lead.objects.count(),
        Event.objects.count(),
        ConsentRecord.objects.count(),
        OutboxMessage.objects.count(),
    )


def test_a_first_capture_creates_a_normalised_lead_with_an_event(implementation):
    result = capture_lead(
        data={
            "email": "  Sanne.de.Vries@Bouwbedrijf.NL ",
            "first_name": "Sanne",
            "phone": "06 12345678",
            "country": "nl",
            "budget": "25.000,00",
            "seniority": "executive",
            "company_size": "40",
        },
        context=API,
    )

    lead = Lead.objects.get()
    assert result.created and result.lead_id == lead.pk
    assert lead.email == "sanne.de.vries@bouwbedrijf.nl"
    assert lead.phone == "+31612345678"
    assert lead.country == "NL"
    assert lead.budget == Decimal("25000.00")
    assert lead.company_size == 40
    assert lead.is_decision_maker
    assert lead.stage == Stage.CONTACT
    assert lead.source == Source.API
    event = Event.objects.get()
    assert event.pk == result.event_id and event.type == EventType.CAPTURE
    assert event.properties["channel"] == "api"
    assert lead.last_activity_at == event.occurred_at


def test_second_submission_of_same_email_adds_event_not_lead(implementation):
    first = capture_lead(
        data={"email": "bram@kroon.nl", "first_name": "Bram", "company": "Kroon B.V.",
              "campaign": "Voorjaar"},
        context=CaptureContext(channel=Source.WEB_FORM, event_type=EventType.FORM_SUBMISSION),
    )  # fmt: skip
    second = capture_lead(
        data={"email": "BRAM@kroon.nl", "first_name": "", "job_title": "Inkoper",
              "campaign": "Najaar", "utm_source": "linkedin"},
        context=API,
    )  # fmt: skip

    lead = Lead.objects.get()
    assert second.lead_id == first.lead_id and not second.created
    assert (lead.first_name, lead.company, lead.job_title) == ("Bram", "Kroon B.V.", "Inkoper")
    # First touch stays on the lead; the second touch is told by its own event.
    assert (lead.source, lead.campaign) == (Source.WEB_FORM, "Voorjaar")
    assert lead.utm_source == "linkedin"
    assert Event.objects.filter(lead=lead).count() == 2
    assert Event.objects.get(pk=second.event_id).properties["campaign"] == "Najaar"


def test_bad_input_is_rejected_per_field_and_saves_nothing(implementation):
    before = counts()

    with pytest.raises(CaptureRejected) as rejected:
        capture_lead(
            data={"email": "not-an-address", "phone": "12", "country": "Atlantis",
                  "budget": "veel", "company_size": "-3", "first_name": "x" * 101},
            context=API,
        )  # fmt: skip

    assert set(rejected.value.errors) >= {"email", "country", "budget", "company_size",
                                          "first_name"}  # fmt: skip
    assert counts() == before


def test_a_bad_phone_number_is_rejected_with_its_own_message(implementation):
    with pytest.raises(CaptureRejected) as rejected:
        capture_lead(data={"email": "a@b.nl", "phone": "+31 6 123"}, context=API)

    assert list(rejected.value.errors) == ["phone"]
    assert Lead.objects.count() == 0


def test_fields_a_caller_may_not_set_are_never_honoured(implementation, admin_user):
    capture_lead(
        data={"email": "sneaky@example.nl", "stage": "won", "score": 999,
              "owner": admin_user.pk, "is_staff": True, "merged_into": 1},
        context=API,
    )  # fmt: skip

    lead = Lead.objects.get()
    assert (lead.stage, lead.score, lead.owner_id, lead.merged_into_id) == (
        Stage.CONTACT, 0, None, None,
    )  # fmt: skip


def test_consents_are_recorded_with_the_notice_that_was_shown(implementation):
    marketing = Purpose.objects.get(key="marketing_email")
    old_notice = marketing.current_notice()
    new_notice = NoticeVersion.objects.create(
        purpose=marketing, version=2, text_en="New wording", text_nl="Nieuwe tekst"
    )

    result = capture_lead(
        data={"email": "lotte@example.nl"},
        consents=[
            ConsentGiven("marketing_email", True, notice_id=old_notice.pk),
            ConsentGiven("contact", True),
            ConsentGiven("phone_contact", False),
        ],
        context=CaptureContext(
            channel=Source.WEB_FORM, consent_method=ConsentMethod.WEB_FORM,
            consent_source="https://example.nl/f/whitepaper/", ip_address="192.0.2.7",
            user_agent="Firefox",
        ),
    )  # fmt: skip

    records = {r.purpose.key: r for r in ConsentRecord.objects.select_related("purpose")}
    assert set(records) == {"marketing_email", "contact", "phone_contact"}
    assert records["marketing_email"].notice == old_notice != new_notice
    assert records["contact"].notice == Purpose.objects.get(key="contact").current_notice()
    assert not records["phone_contact"].granted and records["phone_contact"].notice is None
    for record in records.values():
        assert record.subject_id == result.lead_id
        assert record.method == ConsentMethod.WEB_FORM
        assert record.ip_address == "192.0.2.7" and record.user_agent == "Firefox"
        assert record.evidence == f"event:{result.event_id}"


def test_an_unknown_consent_purpose_rejects_the_whole_capture(implementation):
    with pytest.raises(CaptureRejected) as rejected:
        capture_lead(
            data={"email": "x@example.nl"}, consents=[ConsentGiven("lottery", True)], context=API
        )

    assert "consents" in rejected.value.errors
    assert counts() == (0, 0, 0, 0)


def test_every_capture_asks_for_one_rescore_per_lead(implementation):
    for _ in range(3):
        result = capture_lead(data={"email": "iris@example.nl"}, context=API)
    capture_lead(data={"email": "koen@example.nl"}, context=API)

    pending = OutboxMessage.objects.pending()
    assert pending.count() == 2
    message = pending.get(dedupe_key=f"rescore:{result.lead_id}")
    assert message.task == "scoring.tasks.rescore_lead_task"
    assert message.args == [result.lead_id]


def test_without_a_broker_the_rescore_runs_in_process_after_commit(
    implementation, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        capture_lead(data={"email": "ruben@example.nl"}, context=API)

    assert OutboxMessage.objects.pending().count() == 0
    assert OutboxMessage.objects.get().published_at is not None


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_submissions_of_one_address_give_one_lead_and_twenty_events(
    implementation,
):
    errors = []
    barrier = threading.Barrier(20)

    def submit(n: int) -> None:
        try:
            barrier.wait()
            capture_lead(data={"email": "rush@example.nl", "first_name": f"R{n}"}, context=API)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Lead.objects.count() == 1
    assert Event.objects.filter(lead=Lead.objects.get()).count() == 20


IMPORT = CaptureContext(
    channel=Source.IMPORT, consent_method=ConsentMethod.IMPORT, consent_source="beurs.csv"
)


def test_a_batch_writes_the_valid_rows_and_reports_the_rest_by_index(implementation):
    from leads.services.capture import CaptureRow, capture_leads

    batch = capture_leads(
        rows=[
            CaptureRow({"email": "a@kroon.nl", "first_name": "Anouk"}, event_properties={"row": 2}),
            CaptureRow({"email": "kapot"}, event_properties={"row": 3}),
            CaptureRow({"email": "b@kroon.nl", "phone": "0612345678"},
                       consents=[ConsentGiven("marketing_email", True)]),
        ],
        context=IMPORT,
    )  # fmt: skip

    assert list(batch.errors) == [1] and "email" in batch.errors[1]
    assert batch.results[1] is None
    assert [r.created for r in (batch.results[0], batch.results[2])] == [True, True]
    assert set(Lead.objects.values_list("email", flat=True)) == {"a@kroon.nl", "b@kroon.nl"}
    assert Event.objects.get(pk=batch.results[0].event_id).properties["row"] == 2
    record = ConsentRecord.objects.get()
    assert record.subject_id == batch.results[2].lead_id
    assert record.evidence == f"event:{batch.results[2].event_id}"


def test_one_address_twice_in_a_batch_gives_one_lead_with_an_event_per_row(implementation):
    from leads.services.capture import CaptureRow, capture_leads

    capture_lead(data={"email": "old@kroon.nl", "first_name": "Oud"}, context=API)
    batch = capture_leads(
        rows=[
            CaptureRow({"email": "dup@kroon.nl", "first_name": "Eerste", "company": "Kroon"}),
            CaptureRow({"email": "DUP@kroon.nl", "first_name": "Tweede", "job_title": "CEO"}),
            CaptureRow({"email": "old@kroon.nl", "last_name": "Bekend"}),
        ],
        context=IMPORT,
    )

    first, second, existing = batch.results
    assert first.lead_id == second.lead_id and first.event_id != second.event_id
    assert (first.created, second.created, existing.created) == (True, False, False)
    dup = Lead.objects.get(email="dup@kroon.nl")
    assert (dup.first_name, dup.company, dup.job_title) == ("Tweede", "Kroon", "CEO")
    assert Lead.objects.get(email="old@kroon.nl").first_name == "Oud"
    assert Event.objects.filter(lead=dup).count() == 2
    assert Lead.objects.count() == 2


def test_a_withdrawal_is_recorded_even_after_the_purpose_was_switched_off(implementation):
    capture_lead(
        data={"email": "weg@example.nl"},
        consents=[ConsentGiven("marketing_email", True)],
        context=API,
    )
    Purpose.objects.filter(key="marketing_email").update(is_active=False)

    capture_lead(
        data={"email": "weg@example.nl"},
        consents=[ConsentGiven("marketing_email", False)],
        context=API,
    )
    with pytest.raises(CaptureRejected):
        capture_lead(
            data={"email": "weg@example.nl"},
            consents=[ConsentGiven("marketing_email", True)],
            context=API,
        )

    latest = ConsentRecord.objects.order_by("-id").first()
    assert (latest.purpose.key, latest.granted, latest.notice) == ("marketing_email", False, None)
    assert ConsentRecord.objects.count() == 2
