"""The retention pages: Ada the admin reads the report, edits policies and erases; nobody
else may, and bad input changes nothing."""

import pytest
from django.urls import reverse

from consent.models import Purpose
from leads.models import Lead, Stage
from retention.models import AppliesTo, RetentionPolicy, RetentionRun
from retention.tests.factories import RetentionPolicyFactory, old_lead

pytestmark = pytest.mark.django_db

OTHER_ROLES = ["marketer", "sales_rep", "sales_manager", "no_role_user"]


def policy_data(**fields) -> dict:
    return {
        "name": "Old contacts", "description": "", "applies_to": "contacts", "purpose": "",
        "months": "6", "is_active": "on",
    } | fields  # fmt: skip


@pytest.fixture
def expired_contact():
    RetentionPolicyFactory(name="Old contacts", applies_to=AppliesTo.CONTACTS, months=6)
    return old_lead(stage=Stage.CONTACT, email="piet@example.nl", first_name="Piet")


def test_the_policies_page_shows_each_policys_expired_count(client, admin_user, expired_contact):
    client.force_login(admin_user)

    response = client.get(reverse("retention:policies"))

    assert response.status_code == 200
    (row,) = response.context["rows"]
    assert row["report"].count == 1
    assert b"Old contacts" in response.content


def test_the_dry_run_page_says_what_would_be_erased_and_changes_nothing(
    client, admin_user, expired_contact
):
    client.force_login(admin_user)

    response = client.get(reverse("retention:dry-run"))

    assert response.status_code == 200
    assert response.context["total"] == 1
    assert reverse("leads:detail", args=[expired_contact.pk]).encode() in response.content
    # The report identifies leads by id only.
    assert b"piet@example.nl" not in response.content
    assert Lead.objects.filter(pk=expired_contact.pk).exists()
    assert not RetentionRun.objects.exists()


def test_the_dry_run_csv_lists_every_expired_lead_without_personal_data(
    client, admin_user, expired_contact
):
    client.force_login(admin_user)

    response = client.get(reverse("retention:dry-run-csv"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    lines = body.strip().splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(f"Old contacts,{expired_contact.pk},Contact,")
    assert "piet" not in body.lower()


def test_ada_creates_a_policy_for_a_withdrawn_purpose(client, admin_user):
    client.force_login(admin_user)
    purpose = Purpose.objects.get(key="marketing_email")

    response = client.post(
        reverse("retention:policy-create"),
        policy_data(applies_to="withdrawn_purpose", purpose=str(purpose.pk), months="3"),
    )

    assert response.status_code == 302
    policy = RetentionPolicy.objects.get()
    assert (policy.applies_to, policy.purpose, policy.months) == ("withdrawn_purpose", purpose, 3)


def test_a_purpose_picked_for_another_kind_of_policy_is_not_kept(client, admin_user):
    client.force_login(admin_user)
    purpose = Purpose.objects.get(key="marketing_email")

    client.post(reverse("retention:policy-create"), policy_data(purpose=str(purpose.pk)))

    assert RetentionPolicy.objects.get().purpose is None


def test_ada_edits_a_policy(client, admin_user):
    client.force_login(admin_user)
    policy = RetentionPolicyFactory(months=6)

    response = client.post(
        reverse("retention:policy-edit", args=[policy.pk]), policy_data(months="12", is_active="")
    )

    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.months, policy.is_active) == (12, False)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"months": "0"}, "months", "greater than or equal to 1"),
        ({"months": "-3"}, "months", "greater than or equal to 1"),
        ({"months": "5000"}, "months", "less than or equal to 1200"),
        ({"months": "six"}, "months", "whole number"),
        ({"applies_to": "withdrawn_purpose"}, "purpose", "Say which purpose"),
        ({"applies_to": "everyone"}, "applies_to", "valid choice"),
        ({"purpose": "999999", "applies_to": "withdrawn_purpose"}, "purpose", "valid choice"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_bad_input_in_the_policy_form_is_refused_and_saves_nothing(
    client, admin_user, fields, field, message
):
    client.force_login(admin_user)

    response = client.post(reverse("retention:policy-create"), policy_data(**fields))

    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert len(errors) == 1
    assert message in errors[0]
    assert not RetentionPolicy.objects.exists()


def test_editing_a_policy_that_does_not_exist_is_a_404(client, admin_user):
    client.force_login(admin_user)

    assert client.get(reverse("retention:policy-edit", args=[424242])).status_code == 404


def test_erasing_needs_the_confirmation_box(client, admin_user, expired_contact):
    client.force_login(admin_user)

    response = client.post(reverse("retention:apply"), {}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("retention:dry-run")
    assert "Tick the box" in response.content.decode()
    assert not RetentionRun.objects.exists()
    assert Lead.objects.filter(pk=expired_contact.pk).exists()


def test_ada_starts_a_run_and_a_second_click_starts_no_second_one(
    client, admin_user, expired_contact
):
    client.force_login(admin_user)

    first = client.post(reverse("retention:apply"), {"confirm": "on"})
    second = client.post(reverse("retention:apply"), {"confirm": "on"}, follow=True)

    assert first.status_code == 302
    run = RetentionRun.objects.get()
    assert run.actor == admin_user
    assert "already under way" in second.content.decode()


def test_the_runs_part_alone_answers_htmx(client, admin_user):
    client.force_login(admin_user)
    RetentionRun.objects.create(started_at="2026-01-01T00:00Z")

    response = client.get(reverse("retention:policies"), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert b'id="retention-runs"' in response.content
    assert b"<html" not in response.content


@pytest.mark.parametrize("persona", OTHER_ROLES)
def test_nobody_but_an_admin_erases_or_changes_policies(client, request, persona, expired_contact):
    client.force_login(request.getfixturevalue(persona))
    policy = RetentionPolicy.objects.get()

    assert client.post(reverse("retention:apply"), {"confirm": "on"}).status_code == 403
    create = client.post(
        reverse("retention:policy-create"), policy_data(name="Everyone", months="1")
    )
    edit = client.post(reverse("retention:policy-edit", args=[policy.pk]), policy_data(months="1"))

    assert (create.status_code, edit.status_code) == (403, 403)
    assert not RetentionRun.objects.exists()
    assert list(RetentionPolicy.objects.values_list("name", "months")) == [("Old contacts", 6)]
    assert Lead.objects.filter(pk=expired_contact.pk).exists()


def test_anonymous_visitors_are_sent_to_log_in_and_nothing_is_erased(client, expired_contact):
    response = client.post(reverse("retention:apply"), {"confirm": "on"})

    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert not RetentionRun.objects.exists()


def test_the_runs_show_who_started_them_and_counts_per_policy(client, admin_user, expired_contact):
    client.force_login(admin_user)
    RetentionRun.objects.create(
        started_at="2026-01-01T04:00Z",
        finished_at="2026-01-01T04:01Z",
        erased=1,
        counts=[{"policy": 1, "name": "Old contacts", "expired": 3, "erased": 1}],
    )

    response = client.get(reverse("retention:policies"))

    content = response.content.decode()
    assert "Nightly run" in content
    assert "Old contacts: 1 of 3 erased" in content
