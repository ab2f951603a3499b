from django.db import migrations

PURPOSES = [
    {
        "key": "contact",
        "name_en": "Contact about my request",
        "name_nl": "Contact over mijn aanvraag",
        "legal_basis": "consent",
        "is_marketing": False,
        "is_profiling": False,
        "text_en": "We store your details to answer your request and contact you about it. "
        "You can withdraw this consent at any time.",
        "text_nl": "We bewaren je gegevens om je aanvraag te beantwoorden en daarover contact "
        "met je op te nemen. Je kunt deze toestemming altijd intrekken.",
    },
    {
        "key": "marketing_email",
        "name_en": "Newsletter and offers by e-mail",
        "name_nl": "Nieuwsbrief en aanbiedingen per e-mail",
        "legal_basis": "consent",
        "is_marketing": True,
        "is_profiling": False,
        "text_en": "Yes, send me the newsletter and relevant offers by e-mail. Every e-mail "
        "has a link to unsubscribe.",
        "text_nl": "Ja, stuur mij de nieuwsbrief en relevante aanbiedingen per e-mail. Elke "
        "e-mail bevat een link om je af te melden.",
    },
    {
        "key": "phone_contact",
        "name_en": "Contact by phone",
        "name_nl": "Telefonisch contact",
        "legal_basis": "consent",
        "is_marketing": True,
        "is_profiling": False,
        "text_en": "You may call me about products and services that fit my request.",
        "text_nl": "Jullie mogen mij bellen over producten en diensten die passen bij mijn "
        "aanvraag.",
    },
    {
        "key": "profiling",
        "name_en": "Personalisation based on my behaviour",
        "name_nl": "Personalisatie op basis van mijn gedrag",
        "legal_basis": "consent",
        "is_marketing": False,
        "is_profiling": True,
        "text_en": "You may use my visits to your website and my clicks in your e-mails to "
        "make your offers fit me better.",
        "text_nl": "Jullie mogen mijn bezoeken aan de website en mijn klikken in e-mails "
        "gebruiken om aanbiedingen beter op mij af te stemmen.",
    },
]


def create_default_purposes(apps, schema_editor):
    purpose_model = apps.get_model("consent", "Purpose")
    notice_model = apps.get_model("consent", "NoticeVersion")
    for data in PURPOSES:
        data = dict(data)
        text_en, text_nl = data.pop("text_en"), data.pop("text_nl")
        purpose, created = purpose_model.objects.get_or_create(key=data["key"], defaults=data)
        if created:
            notice_model.objects.create(purpose=purpose, version=1, text_en=text_en, text_nl=text_nl)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(create_default_purposes, migrations.RunPython.noop)]
