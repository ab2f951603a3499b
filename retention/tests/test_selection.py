"""Which leads each kind of retention policy selects, on the day and to the second."""

from datetime import datetime, timedelta
from importlib import import_module

import pytest
from dateutil.relativedelta import relativedelta
from django.apps import apps as django_apps
from django.utils import timezone

from consent.models import Purpose
from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory, lead_at
from retention.models import AppliesTo, RetentionPolicy
from retention.services import expired_leads
from retention.tests.factories import RetentionPolicyFactory, old_lead, record
from scoring.models import StageTransition

pytestmark = pytest.mark.django_db


def expired(policy: RetentionPolicy, now=None) -> set[int]:
    return set(expired_leads(policy, now or timezone.now()).values_list("pk", flat=True))


def lead_active_at(moment, **fields) -> Lead:
    return LeadFactory(last_activity_at=moment, **fields)


# --- Contacts that never became a lead --------------------------------------------------------


def test_a_contact_inactive_for_exactly_six_months_is_kept_a_second_more_is_erased():
    policy = RetentionPolicyFactory(applies_to=AppliesTo.CONTACTS, months=6)
    now = timezone.now()
    cutoff = timezone.localtime(now) - relativedelta(months=6)
    on_the_day = lead_active_at(cutoff, stage=Stage.CONTACT)
    a_second_older = lead_active_at(cutoff - timedelta(seconds=1), stage=Stage.CONTACT)
    a_second_younger = lead_active_at(cutoff + timedelta(seconds=1), stage=Stage.CONTACT)

    selected = expired(policy, now)

    assert a_second_older.pk in selected
    assert on_the_day.pk not in selected
    assert a_second_younger.pk not in selected


def test_months_are_calendar_months_so_march_31_less_one_month_is_end_of_february():
    policy = RetentionPolicyFactory(months=1)
    local = timezone.get_current_timezone()
    now = datetime(2027, 3, 31, 12, 0, tzinfo=local)

    assert policy.cutoff(now) == datetime(2027, 2, 28, 12, 0, tzinfo=local)


def test_a_contact_that_never_did_anything_counts_from_its_creation():
    policy = RetentionPolicyFactory(applies_to=AppliesTo.CONTACTS, months=6)
    now = timezone.now()
    created_long_ago = lead_at(stage=Stage.CONTACT, created_at=now - timedelta(days=200))
    created_recently = lead_at(stage=Stage.CONTACT, created_at=now - timedelta(days=100))

    selected = expired(policy, now)

    assert created_long_ago.pk in selected
    assert created_recently.pk not in selected


@pytest.mark.parametrize("stage", [s for s in Stage.values if s != Stage.CONTACT])
def test_the_contacts_policy_never_touches_a_lead_past_the_contact_stage(stage):
    policy = RetentionPolicyFactory(applies_to=AppliesTo.CONTACTS, months=6)
    lead = old_lead(stage=stage)

    assert lead.pk not in expired(policy)


def test_a_contact_that_once_was_a_lead_is_kept_by_the_contacts_policy():
    policy = RetentionPolicyFactory(applies_to=AppliesTo.CONTACTS, months=6)
    demoted = old_lead(stage=Stage.CONTACT)
    StageTransition.objects.create(
        lead=demoted, from_stage=Stage.CONTACT, to_stage=Stage.LEAD, score=0
    )
    StageTransition.objects.create(
        lead=demoted, from_stage=Stage.LEAD, to_stage=Stage.CONTACT, score=0
    )
    never_moved = old_lead(stage=Stage.CONTACT)

    assert expired(policy) == {never_moved.pk}


def test_merged_away_leads_are_not_selected_themselves():
    policy = RetentionPolicyFactory(applies_to=AppliesTo.CONTACTS, months=6)
    survivor = LeadFactory(stage=Stage.MQL, last_activity_at=timezone.now())
    merged = old_lead(stage=Stage.CONTACT, merged_into=survivor, email=survivor.email)

    assert merged.pk not in expired(policy)


# --- Leads without activity and without any active consent ------------------------------------


def test_an_inactive_lead_without_consent_is_erased_after_exactly_24_months_and_a_second():
    policy = RetentionPolicyFactory(applies_to=AppliesTo.INACTIVE_WITHOUT_CONSENT, months=24)
    now = timezone.now()
    cutoff = timezone.localtime(now) - relativedelta(months=24)
    on_the_day = lead_active_at(cutoff, stage=Stage.MQL)
    older = lead_active_at(cutoff - timedelta(seconds=1), stage=Stage.WON)

    assert expired(policy, now) == {older.pk}
    assert on_the_day.pk not in expired(policy, now)


def test_leads_with_an_active_consent_for_any_purpose_are_kept():
    policy = RetentionPolicyFactory(applies_to=AppliesTo.INACTIVE_WITHOUT_CONSENT, months=24)
    marketing = old_lead()
    record(marketing, "marketing_email")
    contact_only = old_lead()
    record(contact_only, "contact")
    withdrew = old_lead()
    record(withdrew, "marketing_email")
    record(withdrew, "marketing_email", granted=False)
    granted_again = old_lead()
    record(granted_again, "marketing_email", granted=False)
    record(granted_again, "marketing_email")
    never = old_lead()

    assert expired(policy) == {withdrew.pk, never.pk}


def test_recent_activity_keeps_a_lead_without_consent():
    policy = RetentionPolicyFactory(applies_to=AppliesTo.INACTIVE_WITHOUT_CONSENT, months=24)
    recent = old_lead(days=30)

    assert recent.pk not in expired(policy)


# --- Leads that withdrew the one purpose they were kept for -----------------------------------


@pytest.fixture
def marketing_policy():
    return RetentionPolicyFactory(
        applies_to=AppliesTo.WITHDRAWN_PURPOSE,
        purpose=Purpose.objects.get(key="marketing_email"),
        months=1,
    )


def in_two_months():
    return timezone.now() + relativedelta(months=2)


def test_a_lead_that_withdrew_its_only_purpose_long_enough_ago_is_selected(marketing_policy):
    lead = old_lead(days=10, stage=Stage.MQL)
    record(lead, "marketing_email")
    record(lead, "marketing_email", granted=False)

    assert expired(marketing_policy, in_two_months()) == {lead.pk}
    # Withdrawn today: the month has not passed yet.
    assert expired(marketing_policy, timezone.now()) == set()


def test_a_lead_that_still_holds_another_consent_is_kept(marketing_policy):
    lead = old_lead(days=10)
    record(lead, "contact")
    record(lead, "marketing_email", granted=False)

    assert expired(marketing_policy, in_two_months()) == set()


def test_a_lead_that_withdrew_another_purpose_or_granted_again_is_kept(marketing_policy):
    other_purpose = old_lead(days=10)
    record(other_purpose, "phone_contact", granted=False)
    regranted = old_lead(days=10)
    record(regranted, "marketing_email", granted=False)
    record(regranted, "marketing_email")

    assert expired(marketing_policy, in_two_months()) == set()


@pytest.mark.parametrize("stage", [Stage.SQL, Stage.OPPORTUNITY, Stage.WON])
def test_a_lead_in_a_deal_is_kept_whatever_it_withdrew(marketing_policy, stage):
    lead = old_lead(days=10, stage=stage)
    record(lead, "marketing_email", granted=False)

    assert expired(marketing_policy, in_two_months()) == set()


def test_activity_after_the_withdrawal_keeps_the_lead(marketing_policy):
    lead = old_lead(days=10)
    record(lead, "marketing_email", granted=False)
    Lead.objects.filter(pk=lead.pk).update(last_activity_at=in_two_months() - timedelta(days=1))

    assert expired(marketing_policy, in_two_months()) == set()


# --- The demo defaults --------------------------------------------------------------------------


def test_the_data_migration_creates_the_two_demo_policies_once():
    migration = import_module("retention.migrations.0002_default_policies")

    migration.create_default_policies(django_apps, None)
    migration.create_default_policies(django_apps, None)

    policies = {(p.applies_to, p.months, p.is_active) for p in RetentionPolicy.objects.all()}
    assert policies == {
        (AppliesTo.CONTACTS, 6, True),
        (AppliesTo.INACTIVE_WITHOUT_CONSENT, 24, True),
    }
