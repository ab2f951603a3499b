"""The demo criteria `seed_demo` publishes: the qualification model of the two articles.

A business e-mail address and a real source make a contact a lead; decision makers, a
fitting company and a known budget add fit points; pricing visits, consultation and quote
requests add engagement points that fade; 50 points or 3 of the 5 named criteria make an MQL.
"""

from leads.demo_data import FREE_MAIL_DOMAINS, demo_seeder
from leads.models import EventType, Source, Stage
from scoring import services
from scoring.models import CriteriaVersion, Criterion, CriterionKind, StageDefinition, Team


def _rule(**fields) -> dict:
    return fields


NOT_A_GIVEAWAY = ", ".join(source.value for source in Source if source != Source.GIVEAWAY)

DEMO_CRITERIA = [
    # Lead definition
    _rule(kind=CriterionKind.LEAD_DEFINITION, name="Business e-mail address", field="email",
         operator="email_domain_not_in", value=", ".join(FREE_MAIL_DOMAINS)),
    _rule(kind=CriterionKind.LEAD_DEFINITION, name="Not from a giveaway or lottery",
         field="source", operator="in_list", value=NOT_A_GIVEAWAY),
    # Fit
    _rule(kind=CriterionKind.FIT, name="Decision maker", field="is_decision_maker",
         operator="equals", value="true", points=15, counts_towards_mql=True),
    _rule(kind=CriterionKind.FIT, name="Company size fits (10 employees or more)",
         field="company_size", operator="gte", value="10", points=10, counts_towards_mql=True),
    _rule(kind=CriterionKind.FIT, name="Budget known", field="budget", operator="is_set",
         points=10, counts_towards_mql=True),
    _rule(kind=CriterionKind.FIT, name="Free e-mail domain", field="email",
         operator="email_domain_in", value=", ".join(FREE_MAIL_DOMAINS), points=-10),
    # Engagement
    _rule(kind=CriterionKind.ENGAGEMENT, name="Pricing page visited 3 times in 14 days",
         event_type=EventType.PAGE_VIEW, url_contains="/pri", min_count=3, window_days=14,
         points=20, half_life_days=14, buying_signal="consideration"),
    _rule(kind=CriterionKind.ENGAGEMENT, name="Consultation requested",
         event_type=EventType.CONSULTATION_REQUEST, points=30, half_life_days=90,
         buying_signal="purchase", counts_towards_mql=True),
    _rule(kind=CriterionKind.ENGAGEMENT, name="Quote requested",
         event_type=EventType.QUOTE_REQUEST, points=40, half_life_days=90,
         buying_signal="purchase", counts_towards_mql=True),
    _rule(kind=CriterionKind.ENGAGEMENT, name="Form filled in",
         event_type=EventType.FORM_SUBMISSION, points=10, half_life_days=60,
         buying_signal="consideration"),
    _rule(kind=CriterionKind.ENGAGEMENT, name="E-mail link clicked (5 each, up to 15)",
         event_type=EventType.EMAIL_CLICK, points=5, per_occurrence=True, cap=15,
         half_life_days=30, buying_signal="awareness"),
    _rule(kind=CriterionKind.ENGAGEMENT, name="Page views (1 each, up to 10)",
         event_type=EventType.PAGE_VIEW, points=1, per_occurrence=True, cap=10, window_days=90,
         half_life_days=14, buying_signal="awareness"),
]  # fmt: skip

DEMO_DEFINITIONS = [
    (Stage.CONTACT, Team.MARKETING, "Anyone we hold contact details of, with consent."),
    (Stage.LEAD, Team.MARKETING, "A contact with a business e-mail address who did not come "
     "from a giveaway: someone who could buy from us."),
    (Stage.MQL, Team.MARKETING, "A lead with 50 points, or meeting 3 of: decision maker, "
     "company size fits, budget known, consultation requested, quote requested. Marketing "
     "hands it to sales."),
    (Stage.SQL, Team.SALES, "Accepted by a sales rep after a conversation, with budget, "
     "authority, need and timeline (BANT) recorded."),
    (Stage.OPPORTUNITY, Team.SALES, "An offer was made: amount and expected close date known."),
    (Stage.WON, Team.SALES, "The customer signed."),
    (Stage.LOST, Team.SALES, "The customer chose otherwise; the reason is recorded."),
    (Stage.NURTURE, Team.MARKETING, "Not ready to buy yet; marketing keeps in touch."),
]  # fmt: skip


@demo_seeder
def seed_demo_criteria(*, users) -> list[str]:
    """Publish the demo criteria once; publishing scores every demo lead with them."""
    if CriteriaVersion.objects.exists():
        return []
    admin = next((user for user in users if user.username == "admin"), None)
    version = services.start_draft(actor=admin)
    version.mql_threshold = 50
    version.mql_criteria_needed = 3
    version.note = "Demo criteria after the articles: fit, engagement and the 3-of-5 rule."
    version.save()
    for position, fields in enumerate(DEMO_CRITERIA):
        Criterion.objects.create(version=version, position=position, **fields)
    for stage, team, definition in DEMO_DEFINITIONS:
        StageDefinition.objects.create(
            version=version, stage=stage, owning_team=team, definition=definition
        )
    run = services.publish(version=version, actor=admin)
    return [f"Demo criteria published as version {version.number}; re-score run {run.pk}."]
