import pytest
from django.urls import reverse

from webforms.tests.factories import NoticeVersionFactory, PurposeFactory, WebFormFactory

OUR_ORIGIN = "http://testserver"


@pytest.fixture
def contact_notice(db):
    """The notice of a purpose the brochure form requires."""
    return NoticeVersionFactory(
        purpose=PurposeFactory(key="brochure-contact"),
        version=1,
        text_en="We use your details to send the brochure and to answer your questions.",
        text_nl="We gebruiken je gegevens om de brochure te sturen en je vragen te beantwoorden.",
    )


@pytest.fixture
def newsletter_notice(db):
    """The notice of a purpose the brochure form asks but does not require."""
    return NoticeVersionFactory(
        purpose=PurposeFactory(key="brochure-news", is_marketing=True),
        version=1,
        text_en="Yes, send me the monthly newsletter. I can unsubscribe at any time.",
        text_nl="Ja, stuur mij de maandelijkse nieuwsbrief. Ik kan me altijd afmelden.",
    )


@pytest.fixture
def brochure_form(contact_notice, newsletter_notice):
    return WebFormFactory(
        name="Brochure",
        slug="brochure",
        lead_fields=["first_name", "last_name", "phone", "company", "country"],
        purposes=[contact_notice.purpose, newsletter_notice.purpose],
        required_purposes=[contact_notice.purpose],
        campaign="spring-fair",
        utm_source="website",
        allowed_origins=["https://www.bouwbedrijf.nl"],
    )


@pytest.fixture
def no_minimum_fill_time(settings):
    settings.WEBFORMS_MIN_FILL_SECONDS = 0


@pytest.fixture
def fill_in(client):
    """Open a form's page as a visitor and send it with `data`, like a browser would."""

    def fill_in(web_form, data: dict, *, query: str = "", origin: str = OUR_ORIGIN, **headers):
        url = reverse("webforms:public", kwargs={"slug": web_form.slug}) + query
        page = client.get(url)
        assert page.status_code == 200
        if origin:
            headers["HTTP_ORIGIN"] = origin
        return client.post(url, {"token": page.context["token"], **data}, **headers)

    return fill_in
