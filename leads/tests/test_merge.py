import pytest

from consent.models import ConsentRecord
from leads.models import Event, Lead, LeadMerge, OwnerChange, Source, Stage
from leads.services.capture import CaptureContext, ConsentGiven, capture_lead
from leads.services.merge import MergeRefused, merge_leads
from leads.tests.factories import EventFactory, LeadFactory
from outbox.models import OutboxMessage
from scoring.models import StageTransition
from scoring.services import transition

pytestmark = pytest.mark.django_db


def test_merging_moves_events_history_and_consents_to_the_survivor(marketer, sales_rep):
    survivor = LeadFactory(email="femke@kroon.nl", phone="", company="Kroon B.V.")
    duplicate = LeadFactory(email="f.bakker@gmail.com", phone="+31612345678", company="Kroon")
    EventFactory.create_batch(3, lead=duplicate)
    EventFactory(lead=survivor)
    OwnerChange.objects.create(lead=duplicate, to_owner=sales_rep, actor=marketer)
    transition(lead_id=duplicate.pk, to_stage=Stage.MQL, actor=marketer)
    capture_lead(
        data={"email": "f.bakker@gmail.com"},
        consents=[ConsentGiven("marketing_email", True)],
        context=CaptureContext(channel=Source.API),
    )

    merge = merge_leads(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=marketer)

    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert duplicate.merged_into == survivor
    assert Event.objects.filter(lead=survivor).count() == 5  # 1 + 3 + the capture event
    assert not Event.objects.filter(lead=duplicate).exists()
    assert OwnerChange.objects.get().lead == survivor
    assert StageTransition.objects.get().lead == survivor
    assert ConsentRecord.objects.get().subject_id == survivor.pk
    # The survivor keeps what it had and gains what it lacked.
    assert (survivor.company, survivor.phone) == ("Kroon B.V.", "+31612345678")
    assert merge.actor == marketer
    assert merge.duplicate_snapshot["email"] == "f.bakker@gmail.com"
    assert merge.moved["events"] == 4
    assert OutboxMessage.objects.pending().filter(dedupe_key=f"rescore:{survivor.pk}").exists()


def test_a_later_capture_under_the_duplicates_address_reaches_the_survivor(marketer):
    survivor = LeadFactory(email="one@example.nl", job_title="")
    duplicate = LeadFactory(email="two@example.nl")
    merge_leads(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=marketer)

    result = capture_lead(
        data={"email": "TWO@example.nl", "job_title": "CEO"}, context=CaptureContext(channel="api")
    )

    assert (result.lead_id, result.created) == (survivor.pk, False)
    survivor.refresh_from_db()
    assert survivor.job_title == "CEO"
    assert Event.objects.get(pk=result.event_id).properties["used_address"] == "two@example.nl"
    assert Lead.objects.active().count() == 1


@pytest.mark.parametrize("case", ["itself", "missing", "already merged"])
def test_impossible_merges_are_refused_and_change_nothing(marketer, case):
    survivor = LeadFactory()
    other = LeadFactory()
    if case == "itself":
        other = survivor
    elif case == "missing":
        other.delete()
    else:
        merge_leads(survivor_id=survivor.pk, duplicate_id=other.pk, actor=marketer)
    merges = LeadMerge.objects.count()

    with pytest.raises(MergeRefused):
        merge_leads(survivor_id=survivor.pk, duplicate_id=other.pk, actor=marketer)

    assert LeadMerge.objects.count() == merges


def test_an_owner_taken_over_from_the_duplicate_is_recorded(marketer, sales_rep):
    survivor = LeadFactory(owner=None)
    duplicate = LeadFactory(owner=sales_rep)

    merge_leads(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=marketer)

    survivor.refresh_from_db()
    assert survivor.owner == sales_rep
    change = OwnerChange.objects.get(lead=survivor)
    assert (change.from_owner, change.to_owner, change.actor) == (None, sales_rep, marketer)
