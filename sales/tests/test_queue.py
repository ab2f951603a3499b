import threading

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.urls import reverse

from accounts.roles import Role
from accounts.tests.factories import UserFactory
from leads.models import Lead, OwnerChange, Stage
from leads.tests.factories import LeadFactory
from sales import services
from sales.views import QUEUE_PAGE_SIZE

QUEUE = reverse("leads:queue")


def queue_ids(response) -> list[int]:
    return [lead.pk for lead in response.context["leads"]]


def claim(client, lead_id, **extra):
    return client.post(reverse("sales:claim", args=[lead_id]), **extra)


def test_queue_shows_unowned_mqls_by_score_then_newest_first(client, sales_rep, other_rep, mql):
    low = mql(score=40)
    older_high = mql(score=80)
    newer_high = mql(score=80)
    mql(score=99, owner=other_rep)  # owned: not waiting
    LeadFactory(stage=Stage.SQL, score=100)  # past MQL
    merged_into = mql(score=10)
    mql(score=90, merged_into=merged_into, email="dupe@x.nl")  # merged away
    client.force_login(sales_rep)

    response = client.get(QUEUE)

    assert response.status_code == 200
    assert queue_ids(response) == [newer_high.pk, older_high.pk, low.pk, merged_into.pk]


def test_queue_pages_by_keyset_and_filters_by_country_and_source(client, sales_rep, mql):
    leads = [mql(score=score, country="NL", source="event") for score in range(30)]
    belgian = mql(score=50, country="BE", source="event")
    client.force_login(sales_rep)

    first = client.get(QUEUE, {"country": "NL", "source": "event"})
    assert queue_ids(first) == [lead.pk for lead in reversed(leads)][:QUEUE_PAGE_SIZE]
    second = client.get(f"{QUEUE}?{first.context['next_query']}")
    assert queue_ids(second) == [lead.pk for lead in reversed(leads)][QUEUE_PAGE_SIZE:]
    assert second.context["next_query"] is None
    assert queue_ids(client.get(QUEUE, {"country": "BE"})) == [belgian.pk]
    assert queue_ids(client.get(QUEUE, {"source": "referral"})) == []


def test_invalid_filters_show_every_waiting_lead_with_a_warning(client, sales_rep, mql):
    lead = mql(score=5)
    client.force_login(sales_rep)
    response = client.get(QUEUE, {"country": "XX", "after": "nonsense"})
    assert response.status_code == 200
    assert queue_ids(response) == [lead.pk]
    assert b"not valid" in response.content


def test_htmx_filtering_returns_only_the_results(client, sales_rep, mql):
    mql(score=5)
    client.force_login(sales_rep)
    response = client.get(QUEUE, headers={"HX-Request": "true"})
    assert b"queue-results" not in response.content
    assert b"queue-table" in response.content


def test_score_explanation_opens_in_place(client, sales_rep, mql):
    lead = mql(score=5)
    client.force_login(sales_rep)
    response = client.get(reverse("sales:explain", args=[lead.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"score-panel" in response.content
    assert client.get(reverse("sales:explain", args=[999999])).status_code == 404


def test_bob_claims_a_lead_and_it_leaves_the_queue(client, sales_rep, mql):
    lead = mql(score=5)
    client.force_login(sales_rep)

    response = claim(client, lead.pk, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert b"is yours now" in response.content
    lead.refresh_from_db()
    assert lead.owner == sales_rep
    change = OwnerChange.objects.get(lead=lead)
    assert (change.to_owner, change.actor, change.reason) == (
        sales_rep,
        sales_rep,
        "Claimed from the queue",
    )
    assert queue_ids(client.get(QUEUE)) == []


def test_rob_claiming_after_bob_is_told_bob_was_first(client, sales_rep, other_rep, mql):
    lead = mql(score=5)
    services.claim_lead(lead_id=lead.pk, user=sales_rep)
    client.force_login(other_rep)

    htmx = claim(client, lead.pk, headers={"HX-Request": "true"})
    plain = claim(client, lead.pk)

    assert b"Bob" in htmx.content and b"claimed this lead first" in htmx.content
    assert plain.status_code == 302
    assert "claimed this lead first" in str(list(get_messages(plain.wsgi_request))[0])
    lead.refresh_from_db()
    assert lead.owner == sales_rep
    assert OwnerChange.objects.filter(lead=lead).count() == 1


@pytest.mark.parametrize("stage", [Stage.LEAD, Stage.SQL, Stage.NURTURE])
def test_only_an_mql_can_be_claimed(client, sales_rep, stage):
    lead = LeadFactory(stage=stage)
    client.force_login(sales_rep)
    response = claim(client, lead.pk)
    assert "Only marketing-qualified leads" in str(list(get_messages(response.wsgi_request))[0])
    assert Lead.objects.get(pk=lead.pk).owner is None


def test_claiming_an_unknown_lead_says_so(client, sales_rep):
    client.force_login(sales_rep)
    response = claim(client, 987654, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"does not exist" in response.content
    assert not OwnerChange.objects.exists()


def test_a_marketer_cannot_claim(client, marketer, mql):
    lead = mql(score=5)
    client.force_login(marketer)
    assert claim(client, lead.pk).status_code == 403
    assert client.get(QUEUE).status_code == 403
    assert Lead.objects.get(pk=lead.pk).owner is None


def test_a_manager_can_run_the_rules_from_the_queue_but_a_rep_cannot(
    client, sales_rep, sales_manager
):
    client.force_login(sales_rep)
    assert client.post(reverse("sales:assign-now")).status_code == 403
    client.force_login(sales_manager)
    response = client.post(reverse("sales:assign-now"))
    assert response.status_code == 302
    assert "assigned by the rules" in str(list(get_messages(response.wsgi_request))[0])


@pytest.mark.django_db(transaction=True)
def test_two_reps_claiming_at_once_one_wins_and_the_other_is_told():
    bob = UserFactory(username="bob", first_name="Bob", roles=[Role.SALES_REP])
    rob = UserFactory(username="rob", first_name="Rob", roles=[Role.SALES_REP])
    lead = LeadFactory(stage=Stage.MQL)
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def try_claim(user):
        try:
            start.wait()
            services.claim_lead(lead_id=lead.pk, user=user)
            outcomes[user.username] = "won"
        except services.ClaimRefused as refusal:
            outcomes[user.username] = str(refusal)
        finally:
            connection.close()

    threads = [threading.Thread(target=try_claim, args=(user,)) for user in (bob, rob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes.values()).count("won") == 1
    loser = next(name for name, outcome in outcomes.items() if outcome != "won")
    assert "claimed this lead first" in outcomes[loser]
    lead.refresh_from_db()
    assert lead.owner.username != loser
    assert OwnerChange.objects.filter(lead=lead).count() == 1
