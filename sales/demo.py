"""Demo data of the sales workspace, added by `seed_demo`: one team of the demo reps and a
fallback hand-over rule, switched off so the demo queue stays full until someone turns it on."""

from leads.demo_data import demo_seeder
from sales.models import AssignmentRule, SalesTeam


@demo_seeder
def seed_demo_sales_team(*, users) -> list[str]:
    reps = [user for user in users if user.username in ("sales", "sales2")]
    team, created = SalesTeam.objects.get_or_create(name="Sales Benelux")
    team.members.add(*reps)
    if not created:
        return []
    AssignmentRule.objects.create(team=team, position=0, active=False)
    return [
        "Demo sales team 'Sales Benelux' (sales, sales2) with a fallback hand-over rule, "
        "switched off: turn it on at Sales → Assignment rules."
    ]
