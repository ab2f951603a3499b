import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from funnel.metrics import refresh_read_model
from leads.models import Source, Stage
from leads.tests.factories import LeadFactory, lead_at
from scoring.models import StageTransition

pytestmark = pytest.mark.django_db
URL = reverse("funnel:dashboard")
CSV = reverse("funnel:dashboard-csv")


def _moved(lead, to, *, days_ago: float, details=None, frm=Stage.CONTACT):
    transition = StageTransition.objects.create(
        lead=lead, from_stage=frm, to_stage=to, score=0, details=details or {}
    )
    StageTransition.objects.filter(pk=transition.pk).update(
        occurred_at=timezone.now() - timedelta(days=days_ago)
    )


@pytest.fixture
def history():
    a = lead_at(
        stage=Stage.MQL, source=Source.WEB_FORM, created_at=timezone.now() - timedelta(days=10)
    )
    _moved(a, Stage.LEAD, days_ago=9)
    _moved(a, Stage.MQL, days_ago=5, frm=Stage.LEAD)
    b = lead_at(
        stage=Stage.LEAD, source=Source.EVENT, created_at=timezone.now() - timedelta(days=8)
    )
    _moved(b, Stage.LEAD, days_ago=7)
    refresh_read_model()
    return a, b


@pytest.mark.parametrize("persona", ["marketer", "sales_manager", "admin_user"])
def test_marketers_managers_and_admins_see_the_dashboard(persona, request, client, history):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'role="img"' in page and "<title" in page and "<desc" in page
    stages = {row.stage: row for row in response.context["data"].stages}
    assert (stages["contact"].entered, stages["lead"].entered, stages["mql"].entered) == (2, 2, 1)
    assert stages["lead"].conversion == 50.0


@pytest.mark.parametrize("persona", ["sales_rep", "no_role_user"])
def test_reps_and_users_without_a_role_may_not(persona, request, client):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403
    assert client.get(CSV, {"table": "stages"}).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_the_source_filter_in_the_url_narrows_every_number(client, marketer, history):
    client.force_login(marketer)
    response = client.get(URL, {"source": Source.EVENT, "period": "last_12_months"})
    stages = {row.stage: row.entered for row in response.context["data"].stages}
    assert stages["contact"] == 1 and stages["mql"] == 0
    assert 'value="event" selected' in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"date_from": "2026-13-01", "date_to": "2026-01-01"},
        {"date_from": "2026-05-01", "date_to": "2026-01-01"},
        {"date_from": "2026-05-01"},
        {"owner": "999999"},
        {"owner": "not-a-number"},
        {"team": "42"},
        {"period": "forever"},
        {"source": "carrier-pigeon"},
        {"ageing_days": "-3"},
        {"date_from": "1900-01-01", "date_to": "2900-01-01"},
    ],
)
def test_bad_filters_show_an_error_and_the_defaults_never_a_500(query, client, marketer, history):
    client.force_login(marketer)
    response = client.get(URL, query)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "alert-warning" in response.content.decode()
    filters = response.context["filters"]
    assert (filters.end - filters.start).days == 30
    assert client.get(CSV, {"table": "stages", **query}).status_code == 200


def test_a_custom_period_is_used_with_its_end_day_included(client, marketer, history):
    client.force_login(marketer)
    today = timezone.localdate()
    response = client.get(URL, {"date_from": str(today - timedelta(days=6)), "date_to": str(today)})
    filters = response.context["filters"]
    assert (filters.start, filters.end) == (today - timedelta(days=6), today + timedelta(days=1))
    stages = {row.stage: row.entered for row in response.context["data"].stages}
    assert stages["contact"] == 0 and stages["mql"] == 1


@pytest.mark.parametrize(
    "table",
    ["stages", "velocity", "ageing", "cohorts", "rejections-reason", "rejections-source",
     "rejections-criterion"],
)  # fmt: skip
def test_every_table_downloads_as_csv(table, client, sales_manager, history):
    client.force_login(sales_manager)
    response = client.get(CSV, {"table": table, "period": "last_12_months"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) >= 1 and rows[0]


def test_csv_neutralises_spreadsheet_formulas(client, marketer):
    lead = LeadFactory(stage=Stage.NURTURE)
    _moved(lead, Stage.MQL, days_ago=3)
    _moved(lead, Stage.NURTURE, days_ago=2, frm=Stage.MQL, details={"rejection": "=HYPERLINK(1)"})
    client.force_login(marketer)
    response = client.get(CSV, {"table": "rejections-reason"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][:2] == ["'=HYPERLINK(1)", "'=HYPERLINK(1)"]


def test_csv_of_an_unknown_table_is_not_found(client, marketer):
    client.force_login(marketer)
    assert client.get(CSV, {"table": "passwords"}).status_code == 404
    assert client.get(CSV).status_code == 404


def test_the_stages_csv_holds_the_page_numbers(client, marketer, history):
    client.force_login(marketer)
    response = client.get(CSV, {"table": "stages", "source": Source.WEB_FORM})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][:3] == [str(Stage.CONTACT.label), "1", "1"]
    assert rows[3][:2] == [str(Stage.MQL.label), "1"]


def test_the_sla_section_loads_after_the_page(client, sales_manager, history):
    client.force_login(sales_manager)
    page = client.get(URL).content.decode()
    assert reverse("funnel:dashboard-sla") in page
    response = client.get(reverse("funnel:dashboard-sla"), {"period": "last_30_days"})
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
