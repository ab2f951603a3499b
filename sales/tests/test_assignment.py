from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from leads.models import Lead, OwnerChange, Stage
from sales.models import AssignmentRule, AwayStatus, SalesTeam, TeamRotation
from sales.services import assign_by_rules, set_away
from sales.tasks import assign_waiting_mqls_task


def rep(name: str, role=Role.SALES_REP):
    return UserFactory(username=name, first_name=name.title(), roles=[role])


def team(name: str, *members) -> SalesTeam:
    created = SalesTeam.objects.create(name=name)
    created.members.set(members)
    return created


def rule(team, position=1, **conditions) -> AssignmentRule:
    return AssignmentRule.objects.create(team=team, position=position, **conditions)


def owner_of(lead) -> str | None:
    owner = Lead.objects.get(pk=lead.pk).owner
    return owner.username if owner else None


def test_leads_go_to_the_team_of_the_first_matching_rule(db, mql):
    benelux = team("Benelux", rep("bob"))
    enterprise = team("Enterprise", rep("eve"))
    rest = team("Rest", rep("rita"))
    rule(enterprise, 1, company_size_min=500)
    rule(benelux, 2, countries=["NL", "BE"], source="event")
    rule(benelux, 3, industries=["Healthcare"])
    rule(rest, 4)  # fallback
    big_dutch = mql(country="NL", company_size=1000, source="event")
    small_dutch_event = mql(country="NL", company_size=20, source="event")
    dutch_web = mql(country="NL", company_size=20, source="web_form")
    hospital = mql(country="DE", industry="healthcare")
    german = mql(country="DE")

    assert assign_by_rules() == 5

    assert owner_of(big_dutch) == "eve"
    assert owner_of(small_dutch_event) == "bob"
    assert owner_of(hospital) == "bob"
    assert owner_of(dutch_web) == "rita"
    assert owner_of(german) == "rita"
    change = OwnerChange.objects.get(lead=german)
    assert change.actor is None and "Rest" in change.reason


def test_leads_no_rule_matches_stay_in_the_queue(db, mql):
    rule(team("Benelux", rep("bob")), countries=["NL"])
    rule(team("Off", rep("otto")), 2, source="event", active=False)
    french = mql(country="FR", source="event")
    assert assign_by_rules() == 0
    assert owner_of(french) is None


def test_round_robin_rotates_within_a_run_and_across_runs(db, mql):
    bob, rob, ria = rep("bob"), rep("rob"), rep("ria")
    rule(team("All", bob, rob, ria))
    first = [mql(score=90 - i) for i in range(4)]
    assign_by_rules()
    assert [owner_of(lead) for lead in first] == ["bob", "rob", "ria", "bob"]
    assert TeamRotation.objects.get().last_assigned == bob

    later = [mql(score=50 - i) for i in range(2)]
    assign_by_rules()
    assert [owner_of(lead) for lead in later] == ["rob", "ria"]


def test_away_reps_and_people_who_cannot_work_the_queue_are_skipped(db, mql):
    bob, rob = rep("bob"), rep("rob")
    alice = rep("alice", Role.MARKETER)
    rule(team("All", bob, rob, alice))
    set_away(user=rob, away=True, actor=rob)
    leads = [mql(score=9 - i) for i in range(2)]
    assign_by_rules()
    assert [owner_of(lead) for lead in leads] == ["bob", "bob"]


def test_an_away_rep_with_an_end_date_in_the_past_is_back(db, mql):
    rob = rep("rob")
    rule(team("All", rob))
    AwayStatus.objects.create(user=rob, away=True, until=timezone.localdate() - timedelta(days=1))
    lead = mql()
    assign_by_rules()
    assert owner_of(lead) == "rob"


def test_with_nobody_eligible_the_leads_stay_unassigned(db, mql):
    rob = rep("rob")
    rule(team("All", rob))
    rule(team("Empty"), 2)
    set_away(user=rob, away=True, until=timezone.localdate(), actor=rob)
    lead = mql()
    assert assign_by_rules() == 0
    assert owner_of(lead) is None


def test_the_task_assigns_waiting_mqls_and_a_second_run_changes_nothing(db, mql):
    rule(team("All", rep("bob")))
    lead = mql()
    lead_in_sql = Lead.objects.create(email="sql@x.nl", stage=Stage.SQL)
    assert assign_waiting_mqls_task() == 1
    assert assign_waiting_mqls_task() == 0
    assert owner_of(lead) == "bob"
    assert owner_of(lead_in_sql) is None
    assert OwnerChange.objects.count() == 1


# --- Pages -----------------------------------------------------------------------------------


def test_maud_creates_edits_reorders_and_deletes_rules(client, sales_manager):
    benelux = team("Benelux")
    client.force_login(sales_manager)

    response = client.post(
        reverse("sales:rule-create"),
        {
            "team": benelux.pk,
            "active": "on",
            "countries": ["NL", "BE"],
            "industries": "IT, it, Retail",
        },
    )
    assert response.status_code == 302
    first = AssignmentRule.objects.get()
    assert (first.countries, first.industries, first.position) == (
        ["NL", "BE"],
        ["IT", "Retail"],
        1,
    )
    client.post(reverse("sales:rule-create"), {"team": benelux.pk, "active": "on"})
    second = AssignmentRule.objects.exclude(pk=first.pk).get()
    assert second.position == 2 and second.is_fallback

    client.post(reverse("sales:rule-move", args=[second.pk]), {"direction": "up"})
    assert list(AssignmentRule.objects.in_order()) == [second, first]
    client.post(
        reverse("sales:rule-edit", args=[first.pk]),
        {"team": benelux.pk, "company_size_min": 10, "company_size_max": 50},
    )
    first.refresh_from_db()
    assert (first.active, first.countries, first.company_size_min) == (False, [], 10)
    assert b"Benelux" in client.get(reverse("sales:rules")).content
    client.post(reverse("sales:rule-delete", args=[second.pk]))
    assert list(AssignmentRule.objects.all()) == [first]


def test_an_invalid_rule_is_refused_with_the_reason(client, sales_manager):
    benelux = team("Benelux")
    client.force_login(sales_manager)
    response = client.post(
        reverse("sales:rule-create"),
        {"team": benelux.pk, "company_size_min": 100, "company_size_max": 10, "countries": ["XX"]},
    )
    assert response.status_code == 200
    assert b"must not be below" in response.content
    assert "countries" in response.context["form"].errors
    assert not AssignmentRule.objects.exists()
    no_team = client.post(reverse("sales:rule-create"), {"active": "on"})
    assert "team" in no_team.context["form"].errors
    assert (
        client.post(reverse("sales:rule-move", args=[999]), {"direction": "up"}).status_code == 404
    )


def test_a_rep_cannot_edit_rules_or_teams(client, sales_rep):
    benelux = team("Benelux")
    client.force_login(sales_rep)
    assert client.post(reverse("sales:rule-create"), {"team": benelux.pk}).status_code == 403
    assert client.post(reverse("sales:team-create"), {"name": "Mine"}).status_code == 403
    assert not AssignmentRule.objects.exists()
    assert SalesTeam.objects.count() == 1


def test_maud_creates_a_team_of_reps_only(client, sales_manager, sales_rep, marketer):
    client.force_login(sales_manager)
    refused = client.post(reverse("sales:team-create"), {"name": "North", "members": [marketer.pk]})
    assert "members" in refused.context["form"].errors
    client.post(reverse("sales:team-create"), {"name": "North", "members": [sales_rep.pk]})
    north = SalesTeam.objects.get(name="North")
    assert list(north.members.all()) == [sales_rep]
    client.post(reverse("sales:team-edit", args=[north.pk]), {"name": "Noord", "members": []})
    north.refresh_from_db()
    assert north.name == "Noord" and not north.members.exists()
    assert b"Noord" in client.get(reverse("sales:teams")).content


def test_bob_marks_himself_away_and_back(client, sales_rep):
    client.force_login(sales_rep)
    until = timezone.localdate() + timedelta(days=3)
    client.post(reverse("sales:away"), {"away": "1", "until": until.isoformat()})
    status = AwayStatus.objects.get(user=sales_rep)
    assert (status.away, status.until, status.changed_by) == (True, until, sales_rep)
    assert b"You are away until" in client.get(reverse("leads:my-leads")).content
    client.post(reverse("sales:away"), {"away": "0"})
    status.refresh_from_db()
    assert (status.away, status.until) == (False, None)


def test_away_refuses_a_past_date_and_another_persons_status_for_a_rep(
    client, sales_rep, other_rep
):
    client.force_login(sales_rep)
    yesterday = timezone.localdate() - timedelta(days=1)
    response = client.post(reverse("sales:away"), {"away": "1", "until": yesterday.isoformat()})
    assert "must not be in the past" in str(list(get_messages(response.wsgi_request))[0])
    assert (
        client.post(reverse("sales:away"), {"away": "1", "user": other_rep.pk}).status_code == 403
    )
    assert not AwayStatus.objects.exists()


def test_maud_marks_a_rep_away(client, sales_manager, sales_rep):
    client.force_login(sales_manager)
    client.post(reverse("sales:away"), {"away": "1", "user": sales_rep.pk})
    assert AwayStatus.objects.get(user=sales_rep).away
    response = client.post(reverse("sales:away"), {"away": "1", "user": 99999})
    assert "does not exist" in str(list(get_messages(response.wsgi_request))[-1])


@pytest.mark.parametrize("persona", ["marketer", "no_role_user"])
def test_people_outside_sales_cannot_set_away(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.post(reverse("sales:away"), {"away": "1"}).status_code == 403


def test_the_demo_gives_the_reps_a_team_and_a_rule_switched_off(db):
    from io import StringIO

    from django.core.management import call_command

    from sales.models import AssignmentRule, SalesTeam

    for _twice in range(2):
        call_command("seed_demo", leads=20, stdout=StringIO())

    team = SalesTeam.objects.get(name="Sales Benelux")
    assert set(team.members.values_list("username", flat=True)) == {"sales", "sales2"}
    (rule,) = AssignmentRule.objects.all()
    assert rule.team == team and not rule.active and rule.is_fallback
