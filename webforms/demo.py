"""The demo web form `seed_demo` installs: a whitepaper download, as on a real B2B site."""

from consent.models import Purpose
from leads.demo_data import demo_seeder
from webforms.models import WebForm


@demo_seeder
def seed_demo_web_form(*, users) -> list[str]:
    admin = next((user for user in users if user.username == "admin"), None)
    form, created = WebForm.objects.get_or_create(
        slug="whitepaper",
        defaults={
            "name": "Whitepaper: AVG-proof leads",
            "lead_fields": ["email", "first_name", "last_name", "company", "job_title", "phone"],
            "required_lead_fields": ["first_name", "company"],
            "thank_you_en": "Thank you! The whitepaper is on its way to your inbox.",
            "thank_you_nl": "Dank je wel! De whitepaper is onderweg naar je inbox.",
            "campaign": "Whitepaper AVG-proof leads",
            "utm_source": "website",
            "utm_medium": "whitepaper",
            "created_by": admin,
        },
    )
    if created:
        purposes = {
            p.key: p for p in Purpose.objects.filter(key__in=["contact", "marketing_email"])
        }
        form.purposes.set(purposes.values())
        if "contact" in purposes:
            form.required_purposes.set([purposes["contact"]])
        return ["Demo web form: /f/whitepaper/"]
    return []
