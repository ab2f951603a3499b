from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from activities.models import Activity, Task
from activities.tests.factories import BANT, lead_in
from leads.models import Lead, Stage
from leads.tests.factories import LeadFactory
from scoring.models import StageTransition

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _now_input() -> str:
    return timezone.localtime().strftime("%Y-%m-%dT%H:%M")


def _accept_data(**overrides) -> dict:
    return {"expected_stage": "mql", **BANT, **overrides}


# --- The panel on the lead page ----------------------------------------------------------


def test_the_lead_page_shows_the_work_panel_with_the_actions_for_its_stage(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL, owner=sales_rep)
    client.force_login(sales_rep)

    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()

    assert "Work this lead" in page
    assert reverse("activities:move", args=[lead.pk, "accept"]) in page
    assert reverse("activities:move", args=[lead.pk, "reject"]) in page
    assert reverse("activities:move", args=[lead.pk, "offer"]) not in page
    assert reverse("activities:log", args=[lead.pk, "call"]) in page


def test_a_marketer_sees_the_history_but_no_sales_buttons(client, marketer, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    Activity.objects.create(
        lead=lead, kind="call", outcome="reached", notes="Belt terug", actor=sales_rep
    )
    client.force_login(marketer)

    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()

    assert "Belt terug" in page
    assert reverse("activities:log", args=[lead.pk, "call"]) not in page
    assert reverse("activities:move", args=[lead.pk, "accept"]) not in page


def test_activities_are_listed_newest_first(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    now = timezone.now()
    Activity.objects.create(
        lead=lead,
        kind="call",
        outcome="no_answer",
        notes="eerste",
        occurred_at=now - timedelta(hours=2),
    )
    Activity.objects.create(
        lead=lead,
        kind="email",
        outcome="sent",
        notes="tweede",
        occurred_at=now - timedelta(hours=1),
    )
    client.force_login(sales_rep)

    page = client.get(reverse("activities:panel", args=[lead.pk]), **HTMX).content.decode()

    assert page.index("tweede") < page.index("eerste")


# --- Logging and tasks -----------------------------------------------------------------------


def test_opening_the_call_form_with_htmx_gives_the_form_alone_with_focus(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(sales_rep)

    response = client.get(reverse("activities:log", args=[lead.pk, "call"]), **HTMX)

    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "autofocus" in body
    assert 'value="voicemail"' in body
    assert 'value="held"' not in body


def test_logging_a_call_with_htmx_swaps_the_panel_with_the_new_call(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(sales_rep)

    response = client.post(
        reverse("activities:log", args=[lead.pk, "call"]),
        {"outcome": "reached", "occurred_at": _now_input(), "notes": "Wil een demo"},
        **HTMX,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert body.startswith("\n<section") or body.lstrip().startswith("<section")
    assert "Wil een demo" in body
    activity = Activity.objects.get(lead=lead)
    assert (activity.kind, activity.outcome, activity.actor) == ("call", "reached", sales_rep)
    assert Lead.objects.get(pk=lead.pk).last_activity_at is not None


def test_logging_without_javascript_goes_back_to_the_lead_page(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(sales_rep)

    response = client.post(
        reverse("activities:log", args=[lead.pk, "email"]),
        {"outcome": "sent", "occurred_at": _now_input()},
    )

    assert response.status_code == 303
    assert response.url == reverse("leads:detail", args=[lead.pk])
    assert Activity.objects.filter(lead=lead, kind="email").count() == 1


def test_a_bad_outcome_or_a_future_time_is_a_form_error_and_logs_nothing(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(sales_rep)
    url = reverse("activities:log", args=[lead.pk, "meeting"])
    future = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    wrong_outcome = client.post(url, {"outcome": "voicemail", "occurred_at": _now_input()})
    in_future = client.post(url, {"outcome": "held", "occurred_at": future}, **HTMX)

    assert wrong_outcome.status_code == 400
    assert in_future.status_code == 200
    assert "cannot be in the future" in in_future.content.decode()
    assert not Activity.objects.exists()
    assert Lead.objects.get(pk=lead.pk).last_activity_at is None


def test_an_unknown_kind_is_not_found(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(sales_rep)

    assert client.get(reverse("activities:log", args=[lead.pk, "fax"])).status_code == 404


def test_a_task_defaults_to_me_and_is_marked_done_through_the_panel(client, sales_rep):
    lead = LeadFactory(stage=Stage.SQL)
    client.force_login(sales_rep)
    form = client.get(reverse("activities:add-task", args=[lead.pk]), **HTMX)
    assert f'<option value="{sales_rep.pk}" selected>' in form.content.decode()

    due = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    added = client.post(
        reverse("activities:add-task", args=[lead.pk]),
        {"title": "Offerte nabellen", "due_at": due, "assignee": sales_rep.pk},
        **HTMX,
    )
    task = Task.objects.get(lead=lead)
    assert "Offerte nabellen" in added.content.decode()

    done = client.post(reverse("activities:task-done", args=[task.pk]))

    assert done.status_code == 303
    task.refresh_from_db()
    assert task.done_at is not None and task.done_by == sales_rep


def test_a_task_for_someone_who_does_not_sell_is_a_form_error(client, sales_rep, marketer):
    lead = LeadFactory(stage=Stage.SQL)
    client.force_login(sales_rep)
    due = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    response = client.post(
        reverse("activities:add-task", args=[lead.pk]),
        {"title": "Bellen", "due_at": due, "assignee": marketer.pk},
    )

    assert response.status_code == 400
    assert not Task.objects.exists()


# --- Stage actions ---------------------------------------------------------------------------


def test_accepting_an_mql_with_bant_makes_it_sql_with_one_transition(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(sales_rep)

    response = client.post(
        reverse("activities:move", args=[lead.pk, "accept"]), _accept_data(), **HTMX
    )

    assert response.status_code == 200
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SQL
    row = StageTransition.objects.get(lead=lead)
    assert (row.from_stage, row.to_stage, row.actor) == ("mql", "sql", sales_rep)
    assert row.details == {"bant": BANT}
    # The transition row is the history: nothing else is logged.
    assert not Activity.objects.exists()
    # The panel now offers the next step.
    assert reverse("activities:move", args=[lead.pk, "offer"]) in response.content.decode()


def test_accepting_without_a_bant_answer_is_a_field_error_and_changes_nothing(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(sales_rep)

    response = client.post(
        reverse("activities:move", args=[lead.pk, "accept"]), _accept_data(authority="  ")
    )

    assert response.status_code == 400
    assert "authority" in response.context["open_form"]["form"].errors
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL
    assert not StageTransition.objects.exists()


def test_rejecting_needs_a_reason_code_and_records_it(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL, owner=sales_rep)
    client.force_login(sales_rep)
    url = reverse("activities:move", args=[lead.pk, "reject"])

    missing = client.post(url, {"expected_stage": "mql", "reason": "Geen budget dit jaar"})
    assert missing.status_code == 400
    assert "rejection" in missing.context["open_form"]["form"].errors
    assert not StageTransition.objects.exists()

    done = client.post(
        url, {"expected_stage": "mql", "reason": "Geen budget dit jaar", "rejection": "no_budget"}
    )

    assert done.status_code == 303
    row = StageTransition.objects.get(lead=lead)
    assert (row.to_stage, row.details, row.reason) == (
        "nurture",
        {"rejection": "no_budget"},
        "Geen budget dit jaar",
    )


def test_making_an_offer_records_amount_and_close_date(client, sales_rep, admin_user):
    lead = lead_in(Stage.SQL, actor=admin_user, owner=sales_rep)
    client.force_login(sales_rep)
    close = timezone.localdate() + timedelta(days=20)

    response = client.post(
        reverse("activities:move", args=[lead.pk, "offer"]),
        {"expected_stage": "sql", "amount": "12500.50", "expected_close_date": close.isoformat()},
    )

    assert response.status_code == 303
    row = StageTransition.objects.filter(lead=lead).latest("id")
    assert row.to_stage == "opportunity"
    assert row.details == {
        "offer": {"amount": "12500.50", "expected_close_date": close.isoformat()}
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"expected_close_date": "2099-01-01"}, "amount"),
        ({"amount": "0", "expected_close_date": "2099-01-01"}, "amount"),
        ({"amount": "100"}, "expected_close_date"),
        # The form takes any date; the service says a past one is wrong, on that field.
        ({"amount": "100", "expected_close_date": "2001-01-01"}, "expected_close_date"),
    ],
)
def test_an_incomplete_offer_is_a_field_error_and_changes_nothing(
    client, sales_rep, admin_user, data, field
):
    lead = lead_in(Stage.SQL, actor=admin_user, owner=sales_rep)
    before = StageTransition.objects.count()
    client.force_login(sales_rep)

    response = client.post(
        reverse("activities:move", args=[lead.pk, "offer"]), {"expected_stage": "sql", **data}
    )

    assert response.status_code == 400
    assert field in response.context["open_form"]["form"].errors
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SQL
    assert StageTransition.objects.count() == before


def test_won_needs_a_reason(client, sales_rep, admin_user):
    lead = lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=sales_rep)
    client.force_login(sales_rep)
    url = reverse("activities:move", args=[lead.pk, "won"])

    assert client.post(url, {"expected_stage": "opportunity"}).status_code == 400
    assert (
        client.post(url, {"expected_stage": "opportunity", "reason": "Beste prijs"}).status_code
        == 303
    )
    assert Lead.objects.get(pk=lead.pk).stage == Stage.WON


def test_lost_records_the_loss_reason(client, sales_rep, admin_user):
    lead = lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=sales_rep)
    client.force_login(sales_rep)

    response = client.post(
        reverse("activities:move", args=[lead.pk, "lost"]),
        {"expected_stage": "opportunity", "reason": "Te duur", "loss": "price"},
        **HTMX,
    )

    assert response.status_code == 200
    row = StageTransition.objects.filter(lead=lead).latest("id")
    assert (row.to_stage, row.details) == ("lost", {"loss": "price"})


def test_two_reps_accepting_the_same_mql_one_wins_the_other_is_told(client, sales_rep, other_rep):
    lead = LeadFactory(stage=Stage.MQL)
    url = reverse("activities:move", args=[lead.pk, "accept"])
    # Both opened the form while the lead was an MQL.
    client.force_login(sales_rep)
    first = client.post(url, _accept_data())
    client.force_login(other_rep)
    second = client.post(url, _accept_data(budget="other budget"), **HTMX)

    assert first.status_code == 303
    assert second.status_code == 200
    assert "Someone moved this lead to Sales qualified meanwhile" in second.content.decode()
    row = StageTransition.objects.get(lead=lead)
    assert row.actor == sales_rep and row.details["bant"]["budget"] == "50k"


def test_a_conflict_without_javascript_is_a_409_page_with_the_message(
    client, sales_rep, admin_user
):
    lead = lead_in(Stage.SQL, actor=admin_user, owner=sales_rep)
    client.force_login(sales_rep)

    response = client.post(reverse("activities:move", args=[lead.pk, "accept"]), _accept_data())

    assert response.status_code == 409
    assert "Someone moved this lead to Sales qualified meanwhile" in response.content.decode()
    assert StageTransition.objects.filter(lead=lead).count() == 1


def test_an_action_for_another_stage_is_not_offered(client, sales_rep):
    lead = LeadFactory(stage=Stage.LEAD)
    client.force_login(sales_rep)

    response = client.get(reverse("activities:move", args=[lead.pk, "won"]))

    assert response.status_code == 409
    assert (
        '<form method="post"'
        not in response.content.decode().split("<main")[1].split("Log out")[-1]
    )


def test_an_unknown_action_or_expected_stage_changes_nothing(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(sales_rep)

    unknown = client.post(reverse("activities:move", args=[lead.pk, "teleport"]), _accept_data())
    bad_stage = client.post(
        reverse("activities:move", args=[lead.pk, "accept"]), _accept_data(expected_stage="x")
    )

    assert unknown.status_code == 404
    assert bad_stage.status_code == 400
    assert not StageTransition.objects.exists()


# --- Permissions -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["marketer", "no_role_user"])
def test_who_does_not_sell_can_neither_log_nor_move(client, request, persona):
    lead = LeadFactory(stage=Stage.MQL)
    task = Task.objects.create(lead=lead, title="x", due_at=timezone.now())
    client.force_login(request.getfixturevalue(persona))

    responses = [
        client.post(
            reverse("activities:log", args=[lead.pk, "call"]),
            {"outcome": "reached", "occurred_at": _now_input()},
        ),
        client.post(reverse("activities:move", args=[lead.pk, "accept"]), _accept_data()),
        client.post(reverse("activities:task-done", args=[task.pk])),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert not Activity.objects.exists()
    assert not StageTransition.objects.exists()
    assert Task.objects.open().count() == 1


@pytest.mark.parametrize("persona", ["sales_rep", "sales_manager", "admin_user"])
def test_sales_and_admins_may_accept(client, request, persona):
    lead = LeadFactory(stage=Stage.MQL)
    client.force_login(request.getfixturevalue(persona))

    response = client.post(reverse("activities:move", args=[lead.pk, "accept"]), _accept_data())

    assert response.status_code == 303
    assert Lead.objects.get(pk=lead.pk).stage == Stage.SQL


def test_anonymous_visitors_are_sent_to_log_in(client):
    lead = LeadFactory(stage=Stage.MQL)

    response = client.post(reverse("activities:move", args=[lead.pk, "accept"]), _accept_data())

    assert response.status_code == 302
    assert reverse("accounts:login") in response.url
    assert not StageTransition.objects.exists()


def test_next_may_point_back_to_the_board_but_not_elsewhere(client, sales_rep, admin_user):
    lead = lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=sales_rep)
    other = lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=sales_rep)
    client.force_login(sales_rep)
    board = reverse("funnel:pipeline") + "?owner=all"
    data = {"expected_stage": "opportunity", "reason": "Ja"}

    back = client.post(reverse("activities:move", args=[lead.pk, "won"]), {**data, "next": board})
    away = client.post(
        reverse("activities:move", args=[other.pk, "won"]),
        {**data, "next": "https://evil.example/"},
    )

    assert back.url == board
    assert away.url == reverse("leads:detail", args=[other.pk])


def test_a_call_logged_in_the_minute_of_the_claim_stops_the_sla_clock(client, sales_rep):
    """The form's time has minutes only; "now" must not fall before the hand-over."""
    from sales.services import claim_lead
    from sales.sla import sla_status

    lead = LeadFactory(stage=Stage.MQL)
    StageTransition.objects.create(lead=lead, from_stage="lead", to_stage="mql", score=0)
    claim_lead(lead_id=lead.pk, user=sales_rep)
    client.force_login(sales_rep)
    this_minute = timezone.localtime().strftime("%Y-%m-%dT%H:%M")

    client.post(
        reverse("activities:log", args=[lead.pk, "call"]),
        {"outcome": "reached", "occurred_at": this_minute, "notes": ""},
    )

    assert Activity.objects.filter(lead=lead).exists()
    (status,) = sla_status([lead]).values()
    assert status.first_contact_at is not None


# --- Whose lead (review findings, issue 6) ---------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "action", "data"),
    [
        (Stage.MQL, "accept", _accept_data()),
        (Stage.MQL, "reject", {"expected_stage": "mql", "reason": "x", "rejection": "no_budget"}),
        (Stage.SQL, "offer", {"expected_stage": "sql", "amount": "10", "expected_close_date": ""}),
        (Stage.OPPORTUNITY, "won", {"expected_stage": "opportunity", "reason": "Ja"}),
        (Stage.OPPORTUNITY, "lost", {"expected_stage": "opportunity", "reason": "Nee"}),
    ],
)
def test_a_rep_cannot_move_another_reps_lead(
    client, sales_rep, other_rep, admin_user, stage, action, data
):
    lead = (
        LeadFactory(stage=stage, owner=other_rep)
        if stage == Stage.MQL
        else lead_in(stage, actor=admin_user, owner=other_rep)
    )
    before = StageTransition.objects.count()
    client.force_login(sales_rep)
    url = reverse("activities:move", args=[lead.pk, action])

    opened = client.get(url)
    posted = client.post(url, data)
    htmx = client.post(url, data, **HTMX)

    assert (opened.status_code, posted.status_code) == (403, 403)
    assert "owns this lead" in posted.content.decode()
    assert htmx.status_code == 200 and "owns this lead" in htmx.content.decode()
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (stage, other_rep)
    assert StageTransition.objects.count() == before


def test_accepting_an_unowned_mql_makes_the_rep_its_owner(client, sales_rep):
    from leads.models import OwnerChange

    lead = LeadFactory(stage=Stage.MQL, owner=None)
    client.force_login(sales_rep)

    response = client.post(reverse("activities:move", args=[lead.pk, "accept"]), _accept_data())

    assert response.status_code == 303
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.SQL, sales_rep)
    change = OwnerChange.objects.get(lead=lead)
    assert (change.from_owner, change.to_owner, change.actor) == (None, sales_rep, sales_rep)


def test_a_refused_accept_of_an_unowned_mql_leaves_it_unowned(client, sales_rep):
    from leads.models import OwnerChange

    lead = LeadFactory(stage=Stage.MQL, owner=None)
    client.force_login(sales_rep)

    response = client.post(
        reverse("activities:move", args=[lead.pk, "accept"]), _accept_data(authority="")
    )

    assert response.status_code == 400
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.MQL, None)
    assert not OwnerChange.objects.filter(lead=lead).exists()


def test_a_rep_cannot_reject_an_unowned_mql(client, sales_rep):
    lead = LeadFactory(stage=Stage.MQL, owner=None)
    client.force_login(sales_rep)

    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()
    response = client.post(
        reverse("activities:move", args=[lead.pk, "reject"]),
        {"expected_stage": "mql", "reason": "x", "rejection": "no_budget"},
    )

    assert reverse("activities:move", args=[lead.pk, "accept"]) in page
    assert reverse("activities:move", args=[lead.pk, "reject"]) not in page
    assert response.status_code == 403
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


@pytest.mark.parametrize("persona", ["sales_manager", "admin_user"])
def test_managers_may_move_any_reps_lead(client, request, sales_rep, admin_user, persona):
    lead = lead_in(Stage.OPPORTUNITY, actor=admin_user, owner=sales_rep)
    client.force_login(request.getfixturevalue(persona))

    response = client.post(
        reverse("activities:move", args=[lead.pk, "won"]),
        {"expected_stage": "opportunity", "reason": "Ja"},
    )

    assert response.status_code == 303
    lead.refresh_from_db()
    assert (lead.stage, lead.owner) == (Stage.WON, sales_rep)


def test_colleagues_may_log_and_plan_on_a_lead_but_see_no_move_buttons(
    client, sales_rep, other_rep
):
    lead = LeadFactory(stage=Stage.MQL, owner=other_rep)
    client.force_login(sales_rep)

    logged = client.post(
        reverse("activities:log", args=[lead.pk, "call"]),
        {"outcome": "reached", "occurred_at": _now_input()},
    )
    planned = client.post(
        reverse("activities:add-task", args=[lead.pk]),
        {"title": "Terugbellen", "due_at": _now_input(), "assignee": other_rep.pk},
    )
    page = client.get(reverse("leads:detail", args=[lead.pk])).content.decode()

    assert (logged.status_code, planned.status_code) == (303, 303)
    assert Activity.objects.filter(lead=lead, actor=sales_rep).exists()
    assert Task.objects.filter(lead=lead, created_by=sales_rep).exists()
    assert reverse("activities:log", args=[lead.pk, "call"]) in page
    assert reverse("activities:move", args=[lead.pk, "accept"]) not in page
    assert reverse("activities:move", args=[lead.pk, "reject"]) not in page


def test_the_board_offers_moves_only_on_the_reps_own_cards(
    client, sales_rep, other_rep, admin_user
):
    mine = lead_in(Stage.SQL, actor=admin_user, owner=sales_rep)
    theirs = lead_in(Stage.SQL, actor=admin_user, owner=other_rep)
    from funnel.metrics import rebuild_read_model

    rebuild_read_model()
    client.force_login(sales_rep)

    page = client.get(reverse("funnel:pipeline"), {"owner": "all"}).content.decode()

    assert reverse("activities:move", args=[mine.pk, "offer"]) in page
    assert reverse("activities:move", args=[theirs.pk, "offer"]) not in page
