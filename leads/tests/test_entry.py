"""Entering a lead by hand: the manual-entry page, through `capture_lead` like every channel."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from consent.models import ConsentMethod, ConsentRecord, NoticeVersion, Purpose
from leads import views
from leads.models import Event, EventType, Lead, Source, Stage
from leads.services.capture import CaptureRejected
from leads.tests.factories import LeadFactory
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db

CREATE = reverse("leads:create")

ENTRY = {
    "email": " Femke.Bakker@Kroon.NL ",
    "first_name": "Femke",
    "last_name": "Bakker",
    "phone": "06 1234 5678",
    "company": "Kroon B.V.",
    "job_title": "Inkoper",
    "seniority": "director",
    "company_size": "40",
    "industry": "Bouw",
    "country": "NL",
    "budget": "25.000",
    "need": "Een nieuwe offerte-aanpak",
    "timeframe": "quarter",
    "campaign": "Vakbeurs Bouw 2025",
}


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _detail(lead_id: int) -> str:
    return reverse("leads:detail", args=[lead_id])


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "admin_user"])
def test_every_role_enters_a_lead_that_is_normalised_and_marked_as_manual_entry(
    client, request, persona
):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    response = client.post(CREATE, ENTRY)

    lead = Lead.objects.get()
    assert response.status_code == 302
    assert response.url == _detail(lead.pk)
    assert _messages(response) == ["The lead was saved."]
    assert lead.email == "femke.bakker@kroon.nl"
    assert lead.phone == "+31612345678"
    assert lead.source == Source.MANUAL
    assert lead.campaign == "Vakbeurs Bouw 2025"
    assert lead.is_decision_maker
    event = Event.objects.get(lead=lead)
    assert event.type == EventType.CAPTURE
    assert event.properties["channel"] == "manual"
    assert event.properties["entered_by"] == user.username
    assert OutboxMessage.objects.filter(dedupe_key=f"rescore:{lead.pk}").exists()


def test_the_form_offers_every_active_purpose_with_its_current_notice(client, marketer):
    marketing = Purpose.objects.get(key="marketing_email")
    NoticeVersion.objects.create(purpose=marketing, version=2, text_en="Send me the news, v2.")
    Purpose.objects.filter(key="phone_contact").update(is_active=False)
    client.force_login(marketer)

    response = client.get(CREATE)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Send me the news, v2." in html
    assert "Yes, send me the newsletter" not in html  # the older wording
    assert 'name="consent_marketing_email"' in html
    assert 'name="consent_contact"' in html
    assert 'name="consent_phone_contact"' not in html
    assert "the person gave this consent to me (verbally or in writing)" in html


def test_the_form_has_labelled_lead_fields_and_no_stage_score_owner_or_source(client, marketer):
    client.force_login(marketer)

    html = client.get(CREATE).content.decode()

    for name in ["email", "first_name", "phone", "company", "country", "need", "campaign"]:
        assert f'for="id_{name}"' in html
    for name in ["stage", "score", "owner", "source", "utm_source"]:
        assert f'name="{name}"' not in html


def test_ticked_consents_are_recorded_as_verbal_with_who_entered_them(client, marketer):
    client.force_login(marketer)

    client.post(CREATE, ENTRY | {"consent_marketing_email": "on", "consent_contact": ""})

    lead = Lead.objects.get()
    record = ConsentRecord.objects.get()
    assert record.subject_id == lead.pk
    assert record.purpose.key == "marketing_email"
    assert record.granted
    assert record.notice == Purpose.objects.get(key="marketing_email").current_notice()
    assert record.method == ConsentMethod.VERBAL
    assert record.source == "entered by alice"
    assert record.recorded_by == marketer


def test_a_box_left_empty_records_nothing_not_a_withdrawal(client, sales_rep):
    client.force_login(sales_rep)

    client.post(CREATE, ENTRY)

    assert not ConsentRecord.objects.exists()


def test_an_address_that_is_known_updates_that_lead_and_says_so(client, sales_rep):
    known = LeadFactory(
        email="femke.bakker@kroon.nl", company="Kroon", stage=Stage.MQL, source=Source.WEB_FORM
    )
    client.force_login(sales_rep)

    response = client.post(CREATE, ENTRY | {"phone": "", "industry": ""})

    assert response.status_code == 302
    assert response.url == _detail(known.pk)
    assert _messages(response) == [
        "An existing lead was updated: a lead with this e-mail address was known."
    ]
    assert Lead.objects.count() == 1
    known.refresh_from_db()
    assert known.company == "Kroon B.V."
    assert known.stage == Stage.MQL  # the stage is scoring's
    assert known.source == Source.WEB_FORM  # where the lead first came from stays
    assert Event.objects.filter(lead=known).count() == 1


def test_the_address_of_a_merged_away_lead_updates_the_lead_it_was_merged_into(client, marketer):
    survivor = LeadFactory(email="femke@kroon.nl")
    LeadFactory(email="femke.bakker@kroon.nl", merged_into=survivor)
    client.force_login(marketer)

    response = client.post(CREATE, ENTRY)

    assert response.url == _detail(survivor.pk)
    assert Lead.objects.active().count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": ""}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "call me maybe"}, "phone"),
        ({"phone": "12"}, "phone"),
        ({"country": "XX"}, "country"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"need": "x" * 5001}, "need"),
        ({"company_size": "-3"}, "company_size"),
        ({"budget": "lots"}, "budget"),
        ({"seniority": "emperor"}, "seniority"),
        ({"timeframe": "someday"}, "timeframe"),
    ],
)
def test_bad_input_is_a_form_error_and_nothing_is_saved(client, marketer, changes, field):
    client.force_login(marketer)

    response = client.post(CREATE, ENTRY | {"consent_contact": "on"} | changes)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Lead.objects.exists()
    assert not ConsentRecord.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_what_capture_rejects_is_shown_on_the_form_fields(client, marketer, monkeypatch):
    def reject(**kwargs):
        raise CaptureRejected(
            {"email": ["This address is refused."], "consents": ["Unknown consent purpose: x"]}
        )

    monkeypatch.setattr(views, "capture_lead", reject)
    client.force_login(marketer)

    response = client.post(CREATE, ENTRY)

    form = response.context["form"]
    assert response.status_code == 200
    assert form.errors["email"] == ["This address is refused."]
    assert form.non_field_errors() == ["Unknown consent purpose: x"]
    assert "This address is refused." in response.content.decode()


def test_posting_stage_score_owner_or_source_sets_none_of_them(client, marketer, sales_rep):
    client.force_login(marketer)

    client.post(
        CREATE,
        ENTRY
        | {
            "stage": "won",
            "score": "99",
            "owner": str(sales_rep.pk),
            "source": "api",
            "utm_source": "forged",
        },
    )

    lead = Lead.objects.get()
    assert (lead.stage, lead.score, lead.owner, lead.source) == (
        Stage.CONTACT,
        0,
        None,
        Source.MANUAL,
    )
    assert lead.utm_source == ""


def test_a_user_without_a_role_may_not_enter_a_lead_and_nothing_is_saved(client, no_role_user):
    client.force_login(no_role_user)

    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, ENTRY).status_code == 403
    assert not Lead.objects.exists()


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "admin_user"])
def test_every_role_finds_the_manual_entry_page_on_the_lead_list(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert f'href="{CREATE}"' in client.get(reverse("leads:list")).content.decode()
