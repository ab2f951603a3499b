"""The leads REST API under /api/v1/: capture, list, read, correct, record events."""

import io
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import IdempotencyKey
from consent.models import ConsentMethod, ConsentRecord
from leads.api import views as api_views
from leads.models import Event, EventType, Lead, Source, Stage
from leads.services.events import LeadsGone
from leads.tests.factories import EventFactory, LeadFactory
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db

LEADS = reverse("api:lead-list")
EVENTS = reverse("api:events")
RESCORE = "scoring.tasks.rescore_lead_task"


def lead_url(lead_or_pk) -> str:
    return reverse("api:lead-detail", args=[getattr(lead_or_pk, "pk", lead_or_pk)])


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def alice(marketer) -> APIClient:
    """Alice the marketer, through the API."""
    return client_for(marketer)


def counts() -> tuple[int, int, int]:
    return Lead.objects.count(), Event.objects.count(), ConsentRecord.objects.count()


def rescores_requested() -> set[int]:
    return {message.args[0] for message in OutboxMessage.objects.pending().filter(task=RESCORE)}


# --- Capture ------------------------------------------------------------------------------


def test_a_new_address_creates_a_lead_and_the_same_address_again_updates_it(alice):
    created = alice.post(
        LEADS,
        {"email": "Sanne@Bouwbedrijf.NL", "first_name": "Sanne", "phone": "06 12345678",
         "country": "nl", "budget": "25.000,00", "company_size": 40},
        format="json",
    )  # fmt: skip
    updated = alice.post(
        LEADS, {"email": "sanne@bouwbedrijf.nl", "job_title": "Inkoper"}, format="json"
    )

    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.json()["id"] == updated.json()["id"] == Lead.objects.get().pk
    body = updated.json()
    assert body["email"] == "sanne@bouwbedrijf.nl"
    assert (body["first_name"], body["job_title"]) == ("Sanne", "Inkoper")
    assert (body["phone"], body["country"], body["budget"]) == ("+31612345678", "NL", "25000.00")
    assert (body["source"], body["stage"], body["score"]) == ("api", "contact", 0)
    assert Event.objects.filter(type=EventType.CAPTURE).count() == 2


def test_capture_records_the_consents_given_with_the_api_as_method(alice, marketer):
    response = alice.post(
        LEADS,
        {"email": "lotte@example.nl", "consents": [
            {"purpose": "marketing_email", "granted": True},
            {"purpose": "contact", "granted": False},
        ]},
        format="json",
        REMOTE_ADDR="192.0.2.7",
    )  # fmt: skip

    assert response.status_code == 201
    records = {r.purpose.key: r for r in ConsentRecord.objects.select_related("purpose")}
    assert records["marketing_email"].granted and not records["contact"].granted
    for record in records.values():
        assert record.subject_id == response.json()["id"]
        assert record.method == ConsentMethod.API
        assert record.recorded_by == marketer
        assert record.ip_address == "192.0.2.7"


def test_capture_asks_for_the_lead_to_be_scored(alice):
    response = alice.post(LEADS, {"email": "iris@example.nl"}, format="json")

    assert rescores_requested() == {response.json()["id"]}


@pytest.mark.parametrize(
    "field", ["stage", "score", "owner", "is_staff", "merged_into", "is_decision_maker", "id"]
)
def test_a_field_nobody_may_set_is_refused_by_name_and_nothing_is_saved(alice, field):
    response = alice.post(LEADS, {"email": "sneaky@example.nl", field: "won"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"errors": {field: ["This field cannot be set."]}}
    assert counts() == (0, 0, 0)


def test_unknown_fields_are_refused_by_name_together_with_other_errors(alice):
    response = alice.post(
        LEADS, {"email": "a@kroon.nl", "company_size": "forty", "colour": "blue"}, format="json"
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["colour"] == ["Unknown field."]
    assert "company_size" in errors
    assert counts() == (0, 0, 0)


def test_invalid_lead_data_is_refused_per_field_and_nothing_is_saved(alice):
    response = alice.post(
        LEADS,
        {"email": "nobody@", "phone": "12", "country": "Atlantis", "company_size": 0,
         "first_name": "x" * 101, "seniority": "emperor", "budget": "lots"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {
        "email", "country", "company_size", "first_name", "seniority", "budget"
    }  # fmt: skip
    assert all(isinstance(message, str) for messages in errors.values() for message in messages)
    assert counts() == (0, 0, 0)


def test_a_bad_phone_number_is_refused_with_its_own_message(alice):
    response = alice.post(LEADS, {"email": "a@example.nl", "phone": "12"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["phone"]


def test_an_unknown_consent_purpose_is_refused_and_nothing_is_saved(alice):
    response = alice.post(
        LEADS,
        {"email": "x@example.nl", "consents": [{"purpose": "lottery", "granted": True}]},
        format="json",
    )

    assert response.status_code == 400
    assert "consents" in response.json()["errors"]
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"email": "x@example.nl", "first_name": {"nested": "object"}},
        {"email": "x@example.nl", "first_name": ["a", "list"]},
        {"email": "x@example.nl", "company_size": "forty"},
        {"email": "x@example.nl", "consents": "all of them"},
        {"email": "x@example.nl", "consents": [{"purpose": "contact"}]},
        {"email": "x@example.nl", "consents": [{"purpose": "contact", "granted": 1, "x": 1}]},
        {"email": "x@example.nl", "first_name": "nul\x00byte"},
        {"email": None},
        {},
    ],
)
def test_values_of_the_wrong_shape_are_refused_with_field_errors(alice, body):
    response = alice.post(LEADS, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"email": "x@example.nl"', 400),
        (b"[1, 2, 3]", 400),
        (b'"just a string"', 400),
        (b"null", 400),
        (b'{"email": "x@example.nl", "company_size": NaN}', 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b'{"email": "\xff\xfe@example.nl"}', 400),
        (b'{"need": "' + b"x" * (5 * 1024 * 1024) + b'"}', 413),
    ],
    ids=["truncated", "list", "string", "null", "nan", "deep", "not-utf8", "huge"],
)
def test_a_bad_body_is_refused_with_a_json_error_never_a_500(alice, body, status):
    response = alice.generic("POST", LEADS, body, content_type="application/json")

    assert response.status_code == status
    assert response.json()["errors"]
    assert counts() == (0, 0, 0)


def test_a_body_that_is_not_json_is_refused_as_an_unsupported_media_type(alice):
    response = alice.post(LEADS, {"email": "x@example.nl"}, format="multipart")

    assert response.status_code == 415
    assert "detail" in response.json()["errors"]
    assert counts() == (0, 0, 0)


# --- Idempotency-Key ----------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_answer_and_captures_nothing(alice):
    body = {"email": "bram@kroon.nl", "first_name": "Bram"}

    first = alice.post(LEADS, body, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    retry = alice.post(LEADS, body, format="json", HTTP_IDEMPOTENCY_KEY="order-7")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Event.objects.count() == 1


def test_the_same_key_with_another_body_is_refused_with_422(alice):
    alice.post(LEADS, {"email": "bram@kroon.nl"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    response = alice.post(
        LEADS, {"email": "other@kroon.nl"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["Idempotency-Key"]
    assert not Lead.objects.filter(email="other@kroon.nl").exists()


def test_the_same_key_on_another_endpoint_is_refused_with_422(alice):
    lead = LeadFactory()
    alice.post(LEADS, {"email": lead.email}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    response = alice.post(
        EVENTS, {"email": lead.email, "type": "page_view"}, format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )  # fmt: skip

    assert response.status_code == 422


def test_two_users_may_choose_the_same_key(alice, sales_rep):
    bob = client_for(sales_rep)

    first = alice.post(LEADS, {"email": "a@kroon.nl"}, format="json", HTTP_IDEMPOTENCY_KEY="1")
    second = bob.post(LEADS, {"email": "b@kroon.nl"}, format="json", HTTP_IDEMPOTENCY_KEY="1")

    assert (first.status_code, second.status_code) == (201, 201)
    assert Lead.objects.count() == 2


def test_a_refused_request_does_not_use_up_its_key(alice):
    refused = alice.post(LEADS, {"email": "kapot"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    corrected = alice.post(
        LEADS, {"email": "heel@kroon.nl"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert (refused.status_code, corrected.status_code) == (400, 201)
    assert IdempotencyKey.objects.get().status_code == 201


def test_a_key_older_than_a_day_may_be_used_again(alice):
    body = {"email": "bram@kroon.nl"}
    alice.post(LEADS, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

    again = alice.post(LEADS, body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers
    assert Event.objects.count() == 2


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "héhé", "tab\there"])
def test_a_key_that_is_not_1_to_255_visible_ascii_characters_is_refused(alice, key):
    response = alice.post(LEADS, {"email": "a@kroon.nl"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["Idempotency-Key"]
    assert counts() == (0, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_requests_with_one_key_capture_once_and_all_get_its_answer(
    marketer, monkeypatch
):
    real_capture = api_views.capture_lead

    def slow_capture(**kwargs):
        # Hold the key's transaction open long enough for every other request to arrive.
        time.sleep(0.3)
        return real_capture(**kwargs)

    monkeypatch.setattr(api_views, "capture_lead", slow_capture)
    barrier = threading.Barrier(6)
    responses, errors = [], []

    def submit() -> None:
        try:
            barrier.wait()
            response = client_for(marketer).post(
                LEADS, {"email": "rush@example.nl"}, format="json",
                HTTP_IDEMPOTENCY_KEY="one-key",
            )  # fmt: skip
            responses.append((response.status_code, response.json()))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(responses) == 6
    assert {status for status, _body in responses} == {201}
    assert all(body == responses[0][1] for _status, body in responses)
    assert Event.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_a_retried_batch_of_events_is_recorded_once(alice):
    lead = LeadFactory()
    batch = [{"lead": lead.pk, "type": "page_view"}, {"lead": lead.pk, "type": "email_open"}]

    first = alice.post(EVENTS, batch, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    retry = alice.post(EVENTS, batch, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert lead.events.count() == 2


# --- Who may do what ------------------------------------------------------------------------

ROLES = ["marketer", "sales_rep", "sales_manager", "admin_user"]


def _requests(lead) -> list[tuple[str, str, object]]:
    return [
        ("get", LEADS, None),
        ("post", LEADS, {"email": "new@example.nl"}),
        ("get", lead_url(lead), None),
        ("patch", lead_url(lead), {"first_name": "Nieuw"}),
        ("post", EVENTS, {"lead": lead.pk, "type": "call"}),
    ]


def test_without_credentials_every_endpoint_answers_401_in_json():
    client = APIClient()
    for method, url, body in _requests(LeadFactory()):
        response = getattr(client, method)(url, body, format="json")

        assert response.status_code == 401, (method, url)
        assert response.headers["WWW-Authenticate"] == "Token"
        assert list(response.json()["errors"]) == ["detail"]
    assert Lead.objects.count() == 1


def test_a_user_without_a_role_gets_403_in_json_from_every_endpoint(no_role_user):
    client = client_for(no_role_user)
    lead = LeadFactory(first_name="Oud")
    for method, url, body in _requests(lead):
        response = getattr(client, method)(url, body, format="json")

        assert response.status_code == 403, (method, url)
        assert response.json() == {"errors": {"detail": ["Your role does not allow this."]}}
    assert Lead.objects.get().first_name == "Oud"
    assert Event.objects.count() == 0


@pytest.mark.parametrize("persona", ROLES)
def test_every_role_may_capture_list_read_correct_and_record_events(request, persona):
    client = client_for(request.getfixturevalue(persona))
    lead = LeadFactory()
    expected = [200, 201, 200, 200, 201]

    statuses = [
        getattr(client, method)(url, body, format="json").status_code
        for method, url, body in _requests(lead)
    ]

    assert statuses == expected


def test_a_role_without_the_permission_for_a_method_gets_403(sales_rep):
    from django.contrib.auth.models import Permission

    sales_rep.groups.clear()
    sales_rep.user_permissions.add(Permission.objects.get(codename="view_lead"))
    client = client_for(sales_rep)

    assert client.get(LEADS).status_code == 200
    assert client.post(LEADS, {"email": "a@example.nl"}, format="json").status_code == 403
    assert client.get(EVENTS).status_code == 403


def test_a_token_from_drf_create_token_authenticates_api_calls(marketer):
    out = io.StringIO()
    call_command("drf_create_token", marketer.username, stdout=out)
    token = out.getvalue().split()[2]
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post(LEADS, {"email": "token@example.nl"}, format="json")
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    refused = client.get(LEADS)

    assert response.status_code == 201
    assert ConsentRecord.objects.count() == 0
    assert refused.status_code == 401


def token_client(user) -> APIClient:
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_a_token_user_gets_exactly_the_permissions_its_role_holds_now(sales_rep):
    from django.contrib.auth.models import Permission

    client = token_client(sales_rep)
    sales_rep.groups.clear()
    sales_rep.user_permissions.add(Permission.objects.get(codename="view_lead"))

    assert client.get(LEADS).status_code == 200
    assert client.post(LEADS, {"email": "a@example.nl"}, format="json").status_code == 403
    sales_rep.user_permissions.clear()
    assert client.get(LEADS).status_code == 403
    sales_rep.is_active = False
    sales_rep.save()
    assert client.get(LEADS).status_code == 401


def test_a_token_capture_takes_two_queries_and_answers_the_lead_as_stored(marketer):
    client = token_client(marketer)
    body = {"email": "snel@example.nl", "first_name": "Snel", "budget": "1.500,50",
            "country": "be", "consents": [{"purpose": "contact", "granted": True}]}  # fmt: skip

    # The token with its permissions, and the capture statement. The ORM steps on SQLite
    # take more.
    with CaptureQueriesContext(connection) as queries:
        response = client.post(LEADS, body, format="json")

    assert response.status_code == 201
    if connection.vendor == "postgresql":
        assert len(queries) == 2
    stored = client.get(lead_url(response.json()["id"])).json()
    assert response.json() == stored
    assert (stored["budget"], stored["country"]) == ("1500.50", "BE")


def test_a_browser_session_may_read_but_writes_need_the_csrf_token(marketer):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(marketer)

    listed = client.get(LEADS)
    posted = client.post(LEADS, {"email": "csrf@example.nl"}, format="json")

    assert listed.status_code == 200
    assert posted.status_code == 403
    assert Lead.objects.count() == 0


# --- The list -------------------------------------------------------------------------------


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [lead["id"] for lead in response.json()["results"]]


def test_the_list_shows_active_leads_highest_score_first(alice):
    low, high = LeadFactory(score=10), LeadFactory(score=90)
    survivor = LeadFactory(score=50)
    LeadFactory(score=99, merged_into=survivor)

    response = alice.get(LEADS)

    assert _ids(response) == [high.pk, survivor.pk, low.pk]
    assert response.json()["next"] is None and response.json()["previous"] is None


def test_the_list_filters_by_every_parameter(alice, sales_rep):
    now = timezone.now()
    a = LeadFactory(email="anna@kroon.nl", stage=Stage.MQL, score=60, source=Source.API,
                    campaign="voorjaar", owner=sales_rep)  # fmt: skip
    b = LeadFactory(email="bert@kroon.nl", stage=Stage.SQL, score=30, source=Source.IMPORT)
    c = LeadFactory(email="anouk@hout.nl", stage=Stage.LEAD, score=80)
    Lead.objects.filter(pk=c.pk).update(created_at=now - timedelta(days=10))

    def ids(**params) -> set[int]:
        return set(_ids(alice.get(LEADS, params)))

    assert ids(stage="mql") == {a.pk}
    assert ids(stage=["mql", "sql"]) == {a.pk, b.pk}
    assert ids(source="import") == {b.pk}
    assert ids(campaign="voorjaar") == {a.pk}
    assert ids(owner=sales_rep.pk) == {a.pk}
    assert ids(score_min=50) == {a.pk, c.pk}
    assert ids(score_max=60) == {a.pk, b.pk}
    assert ids(score_min=50, score_max=70) == {a.pk}
    assert ids(created_after=(now - timedelta(days=1)).date().isoformat()) == {a.pk, b.pk}
    assert ids(created_before=(now - timedelta(days=5)).isoformat()) == {c.pk}
    assert ids(email="Bert@Kroon.nl") == {b.pk}
    assert ids(q="AN") == {a.pk, c.pk}
    assert ids(q="anna@") == {a.pk}


@pytest.mark.parametrize(
    "params",
    [
        {"stage": "heaven"},
        {"source": "pigeon"},
        {"owner": "bob"},
        {"score_min": "high"},
        {"score_min": 80, "score_max": 20},
        {"created_after": "yesterday"},
        {"created_after": "2025-02-30"},
        {"page_size": 0},
        {"page_size": 1000},
        {"ordering": "email"},
        {"cursor": "not-a-cursor"},
        {"colour": "blue"},
    ],
)
def test_a_bad_list_parameter_is_refused_by_name(alice, params):
    response = alice.get(LEADS, params)

    assert response.status_code == 400
    assert set(response.json()["errors"]) <= set(params) | {"non_field_errors"}


def test_pages_follow_each_other_without_gaps_or_repeats_also_among_equal_scores(alice):
    leads = [LeadFactory(score=score) for score in [5, 7, 7, 7, 7, 7, 3, 7, 1, 9]]
    expected = [lead.pk for lead in sorted(leads, key=lambda lead: (-lead.score, -lead.pk))]

    seen, pages, url = [], [], f"{LEADS}?page_size=3"
    while url:
        response = alice.get(url)
        pages.append(_ids(response))
        seen += pages[-1]
        url = response.json()["next"]

    assert seen == expected
    assert [len(page) for page in pages] == [3, 3, 3, 1]


def test_pages_of_several_stages_interleave_by_score_forwards_and_back(alice):
    scores = {"contact": [5, 7, 7, 1, 9], "nurture": [7, 6, 7, 2], "mql": [8, 8]}
    leads = [
        LeadFactory(stage=stage, score=score) for stage, row in scores.items() for score in row
    ]
    chosen = [lead for lead in leads if lead.stage in ("contact", "nurture")]
    expected = [lead.pk for lead in sorted(chosen, key=lambda lead: (-lead.score, -lead.pk))]

    seen, url, last = [], f"{LEADS}?stage=contact&stage=nurture&page_size=4", None
    while url:
        last = alice.get(url)
        seen += _ids(last)
        url = last.json()["next"]
    back = alice.get(last.json()["previous"])

    assert seen == expected
    assert _ids(back) == expected[4:8]


def test_the_previous_link_goes_back_one_page(alice):
    for score in range(10):
        LeadFactory(score=score)
    first = alice.get(LEADS, {"page_size": 4})
    second = alice.get(first.json()["next"])

    back = alice.get(second.json()["previous"])

    assert _ids(back) == _ids(first)
    assert back.json()["previous"] is None


def test_the_list_pages_newest_first_when_asked(alice):
    leads = [LeadFactory() for _ in range(5)]
    for days, lead in enumerate(leads):
        Lead.objects.filter(pk=lead.pk).update(created_at=timezone.now() - timedelta(days=days))

    first = alice.get(LEADS, {"ordering": "-created_at", "page_size": 3})
    rest = alice.get(first.json()["next"])

    assert _ids(first) + _ids(rest) == [lead.pk for lead in leads]
    assert "ordering=-created_at" in first.json()["next"]


def test_a_cursor_of_one_ordering_is_refused_for_another(alice):
    for _ in range(3):
        LeadFactory()
    by_score = alice.get(LEADS, {"page_size": 1}).json()["next"]
    cursor = by_score.split("cursor=")[1].split("&")[0]

    response = alice.get(LEADS, {"ordering": "-created_at", "cursor": cursor})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]


def test_a_page_is_one_query_without_count_or_offset(alice):
    for _ in range(5):
        LeadFactory()
    url = alice.get(LEADS, {"page_size": 2}).json()["next"]

    with CaptureQueriesContext(connection) as queries:
        alice.get(url)

    selects = [q["sql"] for q in queries if "leads_lead" in q["sql"]]
    assert len(selects) == 1
    assert "COUNT(" not in selects[0].upper() and "OFFSET" not in selects[0].upper()


# --- One lead -------------------------------------------------------------------------------


def test_a_lead_is_shown_with_its_scores_and_owner(alice, sales_rep):
    lead = LeadFactory(score=42, owner=sales_rep, budget=Decimal("1500"))

    body = alice.get(lead_url(lead)).json()

    assert (body["id"], body["score"], body["owner"], body["budget"]) == (
        lead.pk, 42, sales_rep.pk, "1500.00"
    )  # fmt: skip
    assert body["country"] == "NL"


def test_an_unknown_lead_is_a_404_in_json(alice):
    response = alice.get(lead_url(2**62))

    assert response.status_code == 404
    assert list(response.json()["errors"]) == ["detail"]


def test_patch_normalises_the_profile_fields_it_is_given_and_asks_for_a_rescore(alice):
    lead = LeadFactory(first_name="Sanne", country="NL", job_title="Inkoper")

    response = alice.patch(
        lead_url(lead),
        {"phone": "0470 12 34 56", "country": "België", "budget": "1.500,50",
         "seniority": "director", "company_size": "12"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.phone, lead.country.code) == ("+32470123456", "BE")
    assert lead.budget == Decimal("1500.50")
    assert (lead.company_size, lead.is_decision_maker) == (12, True)
    assert (lead.first_name, lead.job_title) == ("Sanne", "Inkoper")
    assert response.json()["phone"] == "+32470123456"
    assert rescores_requested() == {lead.pk}


def test_patch_refuses_an_address_another_active_lead_has(alice):
    LeadFactory(email="taken@kroon.nl")
    lead = LeadFactory(email="mine@kroon.nl")

    response = alice.patch(lead_url(lead), {"email": "TAKEN@kroon.nl"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["email"]
    lead.refresh_from_db()
    assert lead.email == "mine@kroon.nl"


def test_patch_may_not_take_the_address_of_someone_elses_merged_lead(alice):
    survivor = LeadFactory()
    LeadFactory(email="old@kroon.nl", merged_into=survivor)
    lead = LeadFactory(email="mine@kroon.nl")

    refused = alice.patch(lead_url(lead), {"email": "old@kroon.nl"}, format="json")
    # The survivor is the same person: its own old address is fine.
    allowed = alice.patch(lead_url(survivor), {"email": "old@kroon.nl"}, format="json")

    assert refused.status_code == 400 and "email" in refused.json()["errors"]
    assert allowed.status_code == 200
    assert allowed.json()["email"] == "old@kroon.nl"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("stage", "This field cannot be set."),
        ("owner", "This field cannot be set."),
        ("score", "This field cannot be set."),
        ("source", "This field cannot be set."),
        ("utm_campaign", "This field cannot be set."),
        ("consents", "This field cannot be set."),
        ("nickname", "Unknown field."),
    ],
)
def test_patch_refuses_fields_outside_the_profile_and_changes_nothing(alice, field, message):
    lead = LeadFactory(first_name="Oud", stage=Stage.LEAD)

    response = alice.patch(lead_url(lead), {"first_name": "Nieuw", field: "x"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"errors": {field: [message]}}
    lead.refresh_from_db()
    assert (lead.first_name, lead.stage) == ("Oud", Stage.LEAD)


def test_patch_refuses_invalid_values_per_field(alice):
    lead = LeadFactory()

    response = alice.patch(
        lead_url(lead), {"phone": "12", "email": "", "company_size": -3}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"phone", "email", "company_size"}


def test_a_merged_lead_cannot_be_corrected(alice):
    lead = LeadFactory(merged_into=LeadFactory())

    response = alice.patch(lead_url(lead), {"first_name": "Nieuw"}, format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.json()["errors"]


def test_put_is_not_allowed(alice):
    response = alice.put(lead_url(LeadFactory()), {"email": "x@example.nl"}, format="json")

    assert response.status_code == 405
    assert list(response.json()["errors"]) == ["detail"]


# --- Events ---------------------------------------------------------------------------------


def test_one_event_is_recorded_moves_last_activity_and_asks_for_a_rescore(alice):
    lead = LeadFactory()
    moment = timezone.now() - timedelta(hours=1)

    response = alice.post(
        EVENTS,
        {"lead": lead.pk, "type": "page_view", "url": "https://example.nl/prijzen",
         "occurred_at": moment.isoformat(), "properties": {"title": "Prijzen"}},
        format="json",
    )  # fmt: skip

    assert response.status_code == 201
    event = Event.objects.get()
    assert response.json()["id"] == event.pk
    assert (event.lead, event.type, event.properties) == (lead, "page_view", {"title": "Prijzen"})
    lead.refresh_from_db()
    assert lead.last_activity_at == moment
    assert rescores_requested() == {lead.pk}


def test_a_batch_names_leads_by_id_or_address_and_never_moves_last_activity_back(alice):
    now = timezone.now()
    anna = LeadFactory(email="anna@kroon.nl", last_activity_at=now - timedelta(days=1))
    bert = LeadFactory(email="bert@kroon.nl", last_activity_at=now - timedelta(days=1))

    response = alice.post(
        EVENTS,
        [
            {"email": "ANNA@kroon.nl", "type": "email_open", "occurred_at": now.isoformat()},
            {"lead": anna.pk, "type": "email_click",
             "occurred_at": (now - timedelta(hours=2)).isoformat()},
            {"lead": bert.pk, "type": "call",
             "occurred_at": (now - timedelta(days=3)).isoformat()},
        ],
        format="json",
    )  # fmt: skip

    assert response.status_code == 201
    assert [item["type"] for item in response.json()] == ["email_open", "email_click", "call"]
    anna.refresh_from_db()
    bert.refresh_from_db()
    assert anna.last_activity_at == now
    assert bert.last_activity_at == now - timedelta(days=1)
    assert rescores_requested() == {anna.pk, bert.pk}


def test_a_batch_with_one_bad_event_saves_none_and_reports_errors_by_index(alice):
    lead = LeadFactory()
    merged = LeadFactory(merged_into=lead)

    response = alice.post(
        EVENTS,
        [
            {"lead": lead.pk, "type": "page_view"},
            {"lead": lead.pk, "type": "teleport"},
            {"lead": lead.pk, "type": "call", "occurred_at": "gisteren"},
            {"email": "nobody@kroon.nl", "type": "call"},
            {"lead": 2**62, "type": "call"},
            {"lead": merged.pk, "type": "call"},
            {"lead": lead.pk, "email": lead.email, "type": "call"},
            {"type": "call"},
            "not an object",
        ],
        format="json",
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert list(errors["1"]) == ["type"]
    assert list(errors["2"]) == ["occurred_at"]
    assert list(errors["3"]) == ["email"]
    assert list(errors["4"]) == list(errors["5"]) == ["lead"]
    assert list(errors["6"]) == list(errors["7"]) == list(errors["8"]) == ["non_field_errors"]
    assert Event.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_one_bad_event_gets_its_errors_by_field(alice):
    response = alice.post(EVENTS, {"lead": LeadFactory().pk, "type": "teleport"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"errors": {"type": ["Unknown event type: “teleport”."]}}


@pytest.mark.parametrize(
    "event",
    [
        {"type": "capture"},
        {"type": "call", "occurred_at": "2025-13-45T99:00:00"},
        {"type": "call", "occurred_at": "2999-01-01T00:00:00Z"},
        {"type": "call", "url": "javascript:alert(1)"},
        {"type": "call", "properties": ["not", "an", "object"]},
        {"type": "call", "properties": {"text": "x" * 9000}},
        {"type": "call", "properties": {"text": "nul\x00"}},
        {"type": "call", "id": 5},
        {"type": "call", "colour": "blue"},
    ],
)
def test_an_invalid_event_is_refused_and_nothing_is_saved(alice, event):
    response = alice.post(EVENTS, {"lead": LeadFactory().pk, **event}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]
    assert Event.objects.count() == 0


def test_a_batch_of_500_is_recorded_with_one_rescore_per_lead(alice):
    leads = [LeadFactory() for _ in range(5)]
    batch = [{"lead": leads[n % 5].pk, "type": "page_view"} for n in range(500)]

    response = alice.post(EVENTS, batch, format="json")

    assert response.status_code == 201
    assert Event.objects.count() == 500
    assert rescores_requested() == {lead.pk for lead in leads}


@pytest.mark.parametrize(("size", "status"), [(501, 400), (0, 400)])
def test_a_batch_must_hold_1_to_500_events(alice, size, status):
    lead = LeadFactory()
    batch = [{"lead": lead.pk, "type": "page_view"}] * size

    response = alice.post(EVENTS, batch, format="json")

    assert response.status_code == status
    assert list(response.json()["errors"]) == ["non_field_errors"]
    assert Event.objects.count() == 0


def test_existing_events_of_a_lead_are_kept(alice):
    event = EventFactory()

    alice.post(EVENTS, {"lead": event.lead_id, "type": "note"}, format="json")

    assert event.lead.events.count() == 2


def test_a_lead_merged_while_its_events_arrive_is_named_and_nothing_is_saved(alice, monkeypatch):
    kept, merged = LeadFactory(), LeadFactory()

    def merged_meanwhile(*, events, actor):
        raise LeadsGone([merged.pk])

    monkeypatch.setattr(api_views, "record_events", merged_meanwhile)

    response = alice.post(
        EVENTS,
        [{"lead": kept.pk, "type": "call"}, {"lead": merged.pk, "type": "call"}],
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["1"]
    assert Event.objects.count() == 0


def test_an_event_for_a_merged_away_address_lands_on_the_survivor(alice, marketer):
    from leads.services.merge import merge_leads

    survivor = LeadFactory(email="nieuw@kroon.nl")
    duplicate = LeadFactory(email="oud@kroon.nl")
    merge_leads(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=marketer)

    response = alice.post(EVENTS, {"email": "oud@kroon.nl", "type": "page_view"}, format="json")

    assert response.status_code == 201, response.content
    assert Event.objects.get().lead == survivor


# --- The direct path for plain token captures answers as the DRF view does ------------------

SHAPES = [
    {"first_name": "  Sanne ", "phone": "06 12345678", "country": "nl", "budget": "25.000,00"},
    {"seniority": " executive ", "company": "Kroon"},
    {"seniority": "executive", "timeframe": "quarter", "source": "web_form"},
    {"company_size": 40, "job_title": None},
    {"company_size": True},
    {"company_size": "40"},
    {"budget": 25000},
    {"phone": "12"},
    {"stage": "mql"},
    {"colour": "blue"},
    {"first_name": "nul\x00byte"},
    {"consents": [{"purpose": "contact", "granted": True}]},
    {"consents": [{"purpose": "no_such_purpose", "granted": True}]},
    {"consents": [{"purpose": "contact", "granted": "yes"}]},
    {"consents": [{"purpose": "contact", "granted": True, "extra": 1}]},
    {"consents": {"purpose": "contact"}},
]


def comparable(response) -> tuple:
    body = response.json()
    for volatile in ("id", "email", "created_at", "updated_at", "last_activity_at"):
        body.pop(volatile, None)
    return response.status_code, body, response["Content-Type"]


@pytest.mark.parametrize("shape", SHAPES)
def test_a_token_capture_answers_exactly_as_the_general_path(marketer, shape):
    from api.authentication import forget_tokens

    forget_tokens()
    direct = token_client(marketer).post(
        LEADS, {"email": "direct@example.nl", **shape}, format="json"
    )
    general = alice_via_drf = client_for(marketer)
    general = alice_via_drf.post(LEADS, {"email": "general@example.nl", **shape}, format="json")

    assert comparable(direct) == comparable(general)
    assert Lead.objects.filter(email="direct@example.nl").exists() == (direct.status_code == 201)
