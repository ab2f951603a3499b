"""The calculator page, saved targets, the public switch and the dashboard's tracking, per
role."""

import datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from leads.models import Stage
from leads.tests.factories import lead_at
from quota.models import CalculatorSettings, QuotaTarget
from quota.tests.factories import QuotaTargetFactory
from quota.tests.test_services import move

pytestmark = pytest.mark.django_db

URL = reverse("funnel:quota")
EXAMPLE = {
    "revenue_target": "120000",
    "average_deal_size": "6000",
    "period": "quarter",
    "rate_contact_lead": "80",
    "rate_lead_mql": "40",
    "rate_mql_sql": "25",
    "rate_sql_opportunity": "50",
    "rate_opportunity_won": "50",
}


def _totals(response) -> dict:
    return {row.stage: row.total for row in response.context["quota"].stages}


def _make_public():
    CalculatorSettings.objects.create(pk=1, public=True)


def test_alice_calculates_the_example_quarter_from_a_shareable_url(client, marketer):
    client.force_login(marketer)

    response = client.get(URL, EXAMPLE)

    assert response.status_code == 200
    assert _totals(response) == {
        "contact": 1000,
        "lead": 800,
        "mql": 320,
        "sql": 80,
        "opportunity": 40,
        "won": 20,
    }
    by_stage = response.context["quota"].by_stage()
    assert (by_stage["mql"].per_month, by_stage["mql"].per_week) == (107, 25)
    # The formulas in words.
    assert "revenue target €120,000.00 ÷ average deal size €6,000.00 = 20" in response.text
    assert "80 SQLs ÷ 25 % (MQL → SQL) = 320" in response.text


def test_without_overrides_the_measured_rates_are_used_and_shown_beside_each_input(
    client, marketer
):
    today = timezone.localdate()
    # Two leads entered MQL this year; one reached SQL, and that one won via opportunity.
    for won in (True, False):
        lead = lead_at(stage=Stage.CONTACT)
        move(lead, Stage.LEAD, timezone.now())
        move(lead, Stage.MQL, timezone.now())
        if won:
            move(lead, Stage.SQL, timezone.now())
            move(lead, Stage.OPPORTUNITY, timezone.now())
            move(lead, Stage.WON, timezone.now())
    client.force_login(marketer)

    response = client.get(
        URL, {"revenue_target": "10000", "average_deal_size": "1000", "period": "month"}
    )

    rates = {row.key: row for row in response.context["rates"]}
    assert rates["mql_sql"].measured.percent == Decimal("50.00")
    assert not rates["mql_sql"].overridden
    assert response.context["rates_until"] == today
    assert "measured: 50.00 % (1 of 2)" in response.text
    # 10 won / 100 % / 100 % = 10 SQLs; / 50 % = 20 MQLs; / 100 % = 20 leads and contacts.
    assert _totals(response) == {
        "contact": 20,
        "lead": 20,
        "mql": 20,
        "sql": 10,
        "opportunity": 10,
        "won": 10,
    }


def test_an_override_replaces_only_its_own_rate(client, marketer):
    client.force_login(marketer)

    response = client.get(URL, {**EXAMPLE, "rate_mql_sql": "10"})

    assert _totals(response)["mql"] == 800
    assert _totals(response)["sql"] == 80


def test_a_period_can_be_a_number_of_months(client, marketer):
    client.force_login(marketer)

    response = client.get(URL, {**EXAMPLE, "period": "6"})

    assert response.context["quota"].months == 6
    assert response.context["quota"].by_stage()["won"].per_month == 4


def test_a_zero_rate_gives_a_message_not_an_error(client, marketer):
    client.force_login(marketer)

    response = client.get(URL, {**EXAMPLE, "rate_sql_opportunity": "0"})

    assert response.status_code == 200
    assert "The rate SQL → opportunity is 0 %" in response.text
    assert _totals(response)["sql"] is None


def test_no_data_and_no_override_says_the_rate_is_unknown(client, marketer):
    client.force_login(marketer)
    query = {k: v for k, v in EXAMPLE.items() if k != "rate_opportunity_won"}

    response = client.get(URL, query)

    assert "The rate Opportunity → won is unknown" in response.text
    assert _totals(response) == dict.fromkeys(
        ["contact", "lead", "mql", "sql", "opportunity"], None
    ) | {"won": 20}


@pytest.mark.parametrize(
    "bad",
    [
        {"revenue_target": "-5"},
        {"revenue_target": "abc"},
        {"revenue_target": "1e30"},
        {"revenue_target": "NaN"},
        {"average_deal_size": "0"},
        {"period": "fortnight"},
        {"period": "0"},
        {"period": "61"},
        {"period": "-3"},
        {"rate_mql_sql": "150"},
        {"rate_mql_sql": "-1"},
        {"rates_since": "2026-02-01", "rates_until": "2026-01-01"},
        {"rates_since": "2000-01-01"},
        {"rates_until": "not a date"},
    ],
)
def test_bad_input_gives_form_errors_never_a_500(client, marketer, bad):
    client.force_login(marketer)

    response = client.get(URL, EXAMPLE | bad)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["quota"] is None
    assert "is-invalid" in response.text


def test_the_empty_calculator_shows_the_form_without_errors(client, sales_manager):
    client.force_login(sales_manager)

    response = client.get(URL)

    assert response.status_code == 200
    assert not response.context["form"].is_bound
    assert response.context["quota"] is None


def test_the_gap_compares_what_is_needed_with_leads_in_each_stage_now(client, marketer):
    for _ in range(3):
        lead_at(stage=Stage.SQL)
    client.force_login(marketer)

    response = client.get(URL, EXAMPLE)

    gap = {row["name"]: row for row in response.context["gap"]}
    assert (gap["SQLs"]["needed"], gap["SQLs"]["now"], gap["SQLs"]["short"]) == (80, 3, 77)
    assert "Against the current pipeline" in response.text


# --- Who sees what ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_while_the_calculator_is_private(client):
    response = client.get(URL, EXAMPLE)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


def test_anonymous_visitors_use_the_public_calculator_without_pipeline_or_saving(client):
    _make_public()
    lead_at(stage=Stage.SQL, email="geheim@klant.nl")

    response = client.get(URL, EXAMPLE)

    assert response.status_code == 200
    assert response.context["public"]
    assert _totals(response)["mql"] == 320
    assert "gap" not in response.context
    assert "target_form" not in response.context
    assert "Against the current pipeline" not in response.text
    assert "Save target" not in response.text
    assert "geheim" not in response.text


def test_anonymous_visitors_still_cannot_save_on_a_public_calculator(client):
    _make_public()

    response = client.post(reverse("quota:target-create"), EXAMPLE | {"name": "x"})

    assert response.status_code == 302
    assert not QuotaTarget.objects.exists()


@pytest.mark.parametrize("persona", ["sales_rep", "no_role_user"])
def test_logged_in_users_without_planning_rights_get_403_even_when_public(client, request, persona):
    _make_public()
    client.force_login(request.getfixturevalue(persona))

    assert client.get(URL, EXAMPLE).status_code == 403


@pytest.mark.parametrize("persona", ["marketer", "sales_manager", "admin_user"])
def test_planners_always_see_the_calculator_in_full(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(URL, EXAMPLE)

    assert response.status_code == 200
    assert not response.context["public"]
    assert "gap" in response.context


# --- Saved targets ----------------------------------------------------------------------------


def test_alice_saves_the_calculation_as_the_active_target(client, marketer):
    client.force_login(marketer)
    data = EXAMPLE | {"name": "Q2 2026", "starts_on": "2026-04-01", "activate": "on"}
    data.pop("rate_contact_lead")  # measured: no data, saved as unknown

    response = client.post(reverse("quota:target-create"), data)

    assert response.status_code == 302
    target = QuotaTarget.objects.get()
    assert (target.name, target.starts_on, target.period, target.months) == (
        "Q2 2026",
        datetime.date(2026, 4, 1),
        "quarter",
        3,
    )
    assert target.revenue_target == Decimal("120000")
    assert target.rate_mql_sql == Decimal("25")
    assert target.rate_contact_lead is None
    assert target.is_active
    assert target.created_by == marketer
    assert target.calculator_url().startswith(URL + "?revenue_target=120000")


def test_a_target_without_a_name_is_not_saved(client, marketer):
    client.force_login(marketer)

    response = client.post(reverse("quota:target-create"), EXAMPLE | {"starts_on": "2026-04-01"})

    assert response.status_code == 400
    assert response.context["target_form"].errors["name"]
    assert not QuotaTarget.objects.exists()


def test_a_target_with_bad_inputs_is_not_saved(client, marketer):
    client.force_login(marketer)
    data = EXAMPLE | {"revenue_target": "-1", "name": "x", "starts_on": "2026-04-01"}

    response = client.post(reverse("quota:target-create"), data)

    assert response.status_code == 400
    assert not QuotaTarget.objects.exists()


def test_bob_the_sales_rep_cannot_save_targets(client, sales_rep):
    client.force_login(sales_rep)
    data = EXAMPLE | {"name": "x", "starts_on": "2026-04-01"}

    assert client.post(reverse("quota:target-create"), data).status_code == 403
    assert not QuotaTarget.objects.exists()


def test_maud_activates_deactivates_and_deletes_targets(client, sales_manager):
    old = QuotaTargetFactory(is_active=True)
    new = QuotaTargetFactory()
    client.force_login(sales_manager)

    client.post(reverse("quota:target-activate", args=[new.pk]))
    assert QuotaTarget.objects.active() == new
    assert not QuotaTarget.objects.get(pk=old.pk).is_active

    client.post(reverse("quota:target-deactivate", args=[new.pk]))
    assert QuotaTarget.objects.active() is None

    client.post(reverse("quota:target-delete", args=[old.pk]))
    assert list(QuotaTarget.objects.all()) == [new]

    page = client.get(reverse("quota:targets"))
    assert new.name in page.text


def test_switching_an_unknown_target_is_404(client, marketer):
    client.force_login(marketer)

    assert client.post(reverse("quota:target-activate", args=[999])).status_code == 404


# --- The public switch ------------------------------------------------------------------------


def test_ada_makes_the_calculator_public_and_private_again(client, admin_user):
    client.force_login(admin_user)

    client.post(reverse("quota:settings"), {"public": "on"})
    assert CalculatorSettings.is_public()
    client.logout()
    assert client.get(URL, EXAMPLE).status_code == 200

    client.force_login(admin_user)
    client.post(reverse("quota:settings"), {})
    assert not CalculatorSettings.is_public()
    client.logout()
    assert client.get(URL, EXAMPLE).status_code == 302


@pytest.mark.parametrize("persona", ["marketer", "sales_manager", "sales_rep"])
def test_only_admins_may_make_the_calculator_public(client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.post(reverse("quota:settings"), {"public": "on"})

    assert response.status_code == 403
    assert not CalculatorSettings.is_public()


# --- Tracking on the dashboard ----------------------------------------------------------------


def _render_tracking(user) -> str:
    request = RequestFactory().get("/funnel/")
    request.user = user
    return Template("{% load quota_tags %}{% quota_tracking %}").render(
        Context({"request": request})
    )


def test_the_dashboard_tracks_the_active_target_week_by_week(marketer):
    today = timezone.localdate()
    monday = today - datetime.timedelta(days=today.weekday())
    QuotaTargetFactory(name="Dit kwartaal", starts_on=monday, is_active=True)
    move(lead_at(stage=Stage.LEAD), Stage.MQL, timezone.now())

    html = _render_tracking(marketer)

    assert "Dit kwartaal" in html
    # One MQL this week against 25 required per week.
    assert "1 / 25" in html
    assert "?revenue_target=120000" in html
    assert "<svg" in html


def test_the_dashboard_shows_nothing_without_an_active_target(marketer):
    QuotaTargetFactory()

    assert _render_tracking(marketer).strip() == ""


def test_tracking_is_not_shown_to_users_who_do_not_plan(sales_rep):
    QuotaTargetFactory(is_active=True)

    assert _render_tracking(sales_rep).strip() == ""


# --- Review findings (issue 6) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "window",
    [
        {"rates_since": "9999-01-01", "rates_until": "9999-12-31"},
        {"rates_until": "9999-12-31"},
        {"rates_since": "1999-12-31"},
    ],
)
def test_a_rate_window_out_of_range_is_a_form_error_not_a_500(client, marketer, window):
    client.force_login(marketer)

    response = client.get(URL, {**EXAMPLE, **window})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert "Choose a date between" in response.content.decode()


def test_a_far_future_window_on_the_public_page_is_ignored_not_a_500(client):
    CalculatorSettings.objects.update_or_create(pk=1, defaults={"public": True})

    response = client.get(
        URL, {**EXAMPLE, "rates_since": "9999-01-01", "rates_until": "9999-12-31"}
    )

    assert response.status_code == 200
    assert response.context["quota"] is not None


def test_the_public_page_shows_percentages_only_over_the_default_window(client, marketer):
    from quota.forms import default_rate_window

    CalculatorSettings.objects.update_or_create(pk=1, defaults={"public": True})
    day = timezone.localdate() - datetime.timedelta(days=3)
    noon = timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))
    for _ in range(7):
        lead_at(created_at=noon)
    one_day = {**EXAMPLE, "rate_contact_lead": "", "rates_since": day, "rates_until": day}

    public = client.get(URL, one_day)
    client.force_login(marketer)
    inside = client.get(URL, one_day)

    assert public.status_code == 200
    body = public.content.decode()
    assert "of 7)" not in body and "measured: 0.00 %" in body
    assert 'name="rates_since"' not in body
    assert (public.context["rates_since"], public.context["rates_until"]) == (default_rate_window())
    assert "(0 of 7)" in inside.content.decode()
    assert inside.context["rates_since"] == day


def test_a_target_starting_in_the_far_future_is_a_form_error(client, marketer):
    client.force_login(marketer)

    response = client.post(
        reverse("quota:target-create"), {**EXAMPLE, "name": "Ver weg", "starts_on": "9999-12-01"}
    )

    assert response.status_code in (200, 400)
    assert not QuotaTarget.objects.exists()
