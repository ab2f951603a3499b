import datetime
from decimal import Decimal

import factory

from quota.models import QuotaTarget


class QuotaTargetFactory(factory.django.DjangoModelFactory[QuotaTarget]):
    class Meta:
        model = QuotaTarget

    name = factory.Sequence(lambda n: f"Q{n % 4 + 1} target {n}")
    starts_on = datetime.date(2026, 1, 5)
    period = "quarter"
    months = 3
    revenue_target = Decimal("120000")
    average_deal_size = Decimal("6000")
    rate_contact_lead = Decimal("80")
    rate_lead_mql = Decimal("40")
    rate_mql_sql = Decimal("25")
    rate_sql_opportunity = Decimal("50")
    rate_opportunity_won = Decimal("50")
