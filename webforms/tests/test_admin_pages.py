"""The pages where admins define web forms and marketers pick up their embed code."""

import html

import pytest
from django.urls import reverse
from django.utils.html import escape

from webforms.models import BlockedSubmission, BlockReason, WebForm
from webforms.tests.factories import WebFormFactory

pytestmark = pytest.mark.django_db


def _new_form_data(**overrides) -> dict:
    return {
        "name": "Offerte aanvragen",
        "slug": "offerte",
        "is_active": "on",
        "lead_fields": ["first_name", "company", "phone"],
        "required_lead_fields": ["company"],
        "thank_you_en": "Thanks!",
        "thank_you_nl": "Bedankt!",
        "campaign": "voorjaar",
        "allowed_origins": "https://www.Bouwbedrijf.nl/\r\nhttps://shop.bouwbedrijf.nl",
        **overrides,
    }


def test_an_admin_creates_a_form_with_fields_purposes_and_allowed_sites(
    client, admin_user, contact_notice, newsletter_notice
):
    client.force_login(admin_user)
    contact, news = contact_notice.purpose, newsletter_notice.purpose

    response = client.post(
        reverse("webforms:create"),
        _new_form_data(purposes=[contact.pk, news.pk], required_purposes=[contact.pk]),
    )

    web_form = WebForm.objects.get(slug="offerte")
    assert response.status_code == 302
    assert response.url == reverse("webforms:detail", kwargs={"pk": web_form.pk})
    assert web_form.created_by == admin_user
    assert web_form.lead_fields == ["first_name", "company", "phone"]
    assert web_form.required_lead_fields == ["company"]
    assert set(web_form.purposes.all()) == {contact, news}
    assert list(web_form.required_purposes.all()) == [contact]
    assert web_form.allowed_origins == ["https://www.bouwbedrijf.nl", "https://shop.bouwbedrijf.nl"]


def test_an_admin_edits_a_form_and_sees_its_allowed_sites_one_per_line(client, admin_user):
    web_form = WebFormFactory(allowed_origins=["https://a.example", "https://b.example"])
    client.force_login(admin_user)
    url = reverse("webforms:edit", kwargs={"pk": web_form.pk})

    page = client.get(url)
    response = client.post(url, _new_form_data(slug=web_form.slug, name="Renamed"))

    assert page.context["form"]["allowed_origins"].value() == "https://a.example\nhttps://b.example"
    assert response.status_code == 302
    web_form.refresh_from_db()
    assert web_form.name == "Renamed"
    assert web_form.created_by is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"allowed_origins": "http://insecure.example"}, "allowed_origins"),
        ({"allowed_origins": "https://ok.example\n*"}, "allowed_origins"),
        ({"redirect_url": "javascript:alert(1)"}, "redirect_url"),
        ({"required_lead_fields": ["need"]}, "required_lead_fields"),
        ({"lead_fields": ["stage"]}, "lead_fields"),
        ({"slug": "met spaties"}, "slug"),
    ],
)
def test_a_form_definition_with_bad_input_is_refused_per_field(
    client, admin_user, overrides, field
):
    client.force_login(admin_user)

    response = client.post(reverse("webforms:create"), _new_form_data(**overrides))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not WebForm.objects.exists()


def test_a_required_purpose_must_also_be_asked(client, admin_user, contact_notice):
    client.force_login(admin_user)

    response = client.post(
        reverse("webforms:create"), _new_form_data(required_purposes=[contact_notice.purpose.pk])
    )

    assert "required_purposes" in response.context["form"].errors


def test_a_marketer_sees_the_forms_and_copies_the_embed_code(client, marketer):
    web_form = WebFormFactory(name='Brochure "Bouw"', slug="brochure")
    client.force_login(marketer)

    listing = client.get(reverse("webforms:list"))
    detail = client.get(reverse("webforms:detail", kwargs={"pk": web_form.pk}))

    assert list(listing.context["web_forms"]) == [web_form]
    assert reverse("webforms:create") not in listing.content.decode()
    snippet = detail.context["embed_code"]
    assert snippet.startswith('<iframe src="http://testserver/f/brochure/?embed=1"')
    assert 'title="Brochure &quot;Bouw&quot;"' in snippet
    # Shown as text to copy, never as a live element on our page.
    assert "<iframe" not in detail.content.decode()
    assert escape(snippet) in detail.content.decode()
    assert "http://testserver/f/brochure/" in detail.content.decode()
    assert reverse("webforms:edit", kwargs={"pk": web_form.pk}) not in detail.content.decode()


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "no_role_user"])
def test_only_admins_create_or_change_forms(client, request, persona):
    web_form = WebFormFactory(name="Brochure")
    client.force_login(request.getfixturevalue(persona))

    create = client.post(reverse("webforms:create"), _new_form_data())
    edit = client.post(
        reverse("webforms:edit", kwargs={"pk": web_form.pk}), _new_form_data(name="Hacked")
    )

    assert (create.status_code, edit.status_code) == (403, 403)
    assert WebForm.objects.get().name == "Brochure"


@pytest.mark.parametrize("persona", ["sales_rep", "sales_manager", "no_role_user"])
def test_people_outside_marketing_do_not_see_the_forms(client, request, persona):
    web_form = WebFormFactory()
    client.force_login(request.getfixturevalue(persona))

    assert client.get(reverse("webforms:list")).status_code == 403
    assert client.get(reverse("webforms:detail", kwargs={"pk": web_form.pk})).status_code == 403


def test_the_nav_links_to_web_forms_for_those_who_may_see_them(client, marketer, sales_rep):
    client.force_login(marketer)
    assert reverse("webforms:list") in client.get(reverse("home")).content.decode()

    client.force_login(sales_rep)
    assert reverse("webforms:list") not in client.get(reverse("home")).content.decode()


def test_the_preview_shows_an_inactive_form_that_cannot_be_sent(
    client, marketer, brochure_form, contact_notice
):
    brochure_form.is_active = False
    brochure_form.save()
    client.force_login(marketer)

    response = client.get(reverse("webforms:preview", kwargs={"pk": brochure_form.pk}))

    content = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert contact_notice.text_en in content
    assert "disabled" in content
    assert 'name="token"' not in content


def test_the_detail_page_counts_blocked_submissions_by_reason(client, admin_user):
    web_form = WebFormFactory()
    for reason in [BlockReason.HONEYPOT, BlockReason.HONEYPOT, BlockReason.TOO_FAST]:
        BlockedSubmission.objects.create(web_form=web_form, reason=reason, ip_address="192.0.2.1")
    client.force_login(admin_user)

    response = client.get(reverse("webforms:detail", kwargs={"pk": web_form.pk}))

    assert response.context["blocked"] == [
        {"label": BlockReason.HONEYPOT.label, "count": 2},
        {"label": BlockReason.TOO_FAST.label, "count": 1},
    ]


def test_the_django_admin_refuses_an_origin_our_own_page_would_refuse(client, admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    url = reverse("admin:webforms_webform_add")

    page = client.get(url)
    response = client.post(url, _new_form_data(allowed_origins="https://x.example; script-src *"))

    assert page.status_code == 200
    assert response.status_code == 200
    assert "allowed_origins" in response.context["adminform"].form.errors
    assert not WebForm.objects.exists()
