"""Admins define processing purposes and their notices; a new wording is a new version."""

import pytest
from django.urls import reverse

from consent.models import LegalBasis, NoticeVersion, Purpose

pytestmark = pytest.mark.django_db

ROLES = ["marketer", "sales_rep", "sales_manager", "no_role_user"]


def _purpose(key: str = "newsletter", **fields) -> Purpose:
    purpose = Purpose.objects.create(
        key=key, name_en=fields.pop("name_en", "Newsletter"), name_nl="Nieuwsbrief", **fields
    )
    NoticeVersion.objects.create(
        purpose=purpose, version=1, text_en="We mail you monthly.", text_nl="Maandelijks."
    )
    return purpose


def _edit_data(purpose: Purpose, **changes) -> dict:
    notice = purpose.current_notice()
    data = {
        "name_en": purpose.name_en,
        "name_nl": purpose.name_nl,
        "legal_basis": purpose.legal_basis,
        "text_en": notice.text_en,
        "text_nl": notice.text_nl,
        "is_active": "on" if purpose.is_active else "",
    }
    for flag in ("is_marketing", "is_profiling", "requires_double_opt_in"):
        if getattr(purpose, flag):
            data[flag] = "on"
    data.update(changes)
    return {name: value for name, value in data.items() if value != ""}


@pytest.fixture
def ada(client, admin_user):
    client.force_login(admin_user)
    return client


# --- Who may see the pages ------------------------------------------------------------------


@pytest.mark.parametrize("persona", ROLES)
@pytest.mark.parametrize("name", ["purposes", "purpose-create", "processing"])
def test_only_admins_open_the_purpose_pages(client, request, persona, name):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(reverse(f"consent:{name}")).status_code == 403


@pytest.mark.parametrize("persona", ROLES)
def test_nobody_but_an_admin_can_create_or_change_a_purpose(client, request, persona):
    purpose = _purpose()
    client.force_login(request.getfixturevalue(persona))

    created = client.post(reverse("consent:purpose-create"), {"key": "x", "name_en": "X"})
    edited = client.post(
        reverse("consent:purpose-edit", args=[purpose.pk]), _edit_data(purpose, text_en="Hacked")
    )

    assert (created.status_code, edited.status_code) == (403, 403)
    assert not Purpose.objects.filter(key="x").exists()
    assert purpose.notices.count() == 1


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(reverse("consent:purposes"))

    assert response.status_code == 302
    assert reverse("accounts:login") in response.url


def test_the_list_shows_each_purpose_with_flags_notice_version_and_consent_count(ada):
    response = ada.get(reverse("consent:purposes"))

    assert response.status_code == 200
    html = response.content.decode()
    for key in ["contact", "marketing_email", "phone_contact", "profiling"]:
        assert f"<code>{key}</code>" in html
    assert "direct marketing" in html
    assert "version 1" in html


# --- Creating ------------------------------------------------------------------------------


def test_ada_creates_a_purpose_with_its_first_notice(ada, admin_user):
    response = ada.post(
        reverse("consent:purpose-create"),
        {
            "key": "events",
            "name_en": "Event invitations",
            "name_nl": "Uitnodigingen",
            "legal_basis": LegalBasis.CONSENT,
            "is_marketing": "on",
            "requires_double_opt_in": "on",
            "text_en": "We invite you to our events.\r\nUnsubscribe any time.",
            "text_nl": "We nodigen u uit.",
        },
    )

    assert response.status_code == 302
    purpose = Purpose.objects.get(key="events")
    assert purpose.is_active and purpose.is_marketing and purpose.requires_double_opt_in
    assert not purpose.is_profiling
    (notice,) = purpose.notices.all()
    assert notice.version == 1
    assert notice.created_by == admin_user
    assert notice.text_en == "We invite you to our events.\nUnsubscribe any time."


def test_a_purpose_needs_a_notice_text_and_a_free_key(ada):
    _purpose("newsletter")

    response = ada.post(
        reverse("consent:purpose-create"),
        {"key": "newsletter", "name_en": "N", "name_nl": "N", "legal_basis": "consent"},
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"key", "text_en", "text_nl"}
    assert Purpose.objects.filter(key="newsletter").count() == 1


def test_a_key_that_is_no_slug_is_refused(ada):
    response = ada.post(
        reverse("consent:purpose-create"),
        {
            "key": "mail me!",
            "name_en": "N",
            "name_nl": "N",
            "legal_basis": "consent",
            "text_en": "T",
            "text_nl": "T",
        },
    )

    assert "key" in response.context["form"].errors
    assert not Purpose.objects.filter(name_en="N").exists()


# --- Editing and notice versions -----------------------------------------------------------


def test_changing_the_notice_makes_a_new_version_and_keeps_the_old_text(ada, admin_user):
    purpose = _purpose()

    response = ada.post(
        reverse("consent:purpose-edit", args=[purpose.pk]),
        _edit_data(purpose, text_nl="Elke maand een mail."),
    )

    assert response.status_code == 302
    versions = list(purpose.notices.order_by("version"))
    assert [(n.version, n.text_en, n.text_nl) for n in versions] == [
        (1, "We mail you monthly.", "Maandelijks."),
        (2, "We mail you monthly.", "Elke maand een mail."),
    ]
    assert versions[1].created_by == admin_user
    assert purpose.current_notice() == versions[1]


def test_saving_with_the_same_text_makes_no_new_version(ada):
    purpose = _purpose(is_marketing=True)

    # Browsers send a textarea's line breaks as CRLF; the stored text has LF.
    NoticeVersion.objects.filter(purpose=purpose).delete()
    NoticeVersion.objects.create(
        purpose=purpose, version=1, text_en="Line one\nLine two", text_nl="NL"
    )
    response = ada.post(
        reverse("consent:purpose-edit", args=[purpose.pk]),
        _edit_data(purpose, name_en="Monthly newsletter", text_en="Line one\r\nLine two"),
    )

    assert response.status_code == 302
    purpose.refresh_from_db()
    assert purpose.name_en == "Monthly newsletter"
    assert purpose.notices.count() == 1


def test_the_edit_form_starts_with_the_current_notice_and_has_no_key(ada):
    purpose = _purpose()
    NoticeVersion.objects.create(purpose=purpose, version=2, text_en="Newer", text_nl="Nieuwer")

    form = ada.get(reverse("consent:purpose-edit", args=[purpose.pk])).context["form"]

    assert "key" not in form.fields
    assert (form.initial["text_en"], form.initial["text_nl"]) == ("Newer", "Nieuwer")


def test_the_key_cannot_change_after_creation(ada):
    purpose = _purpose()

    ada.post(reverse("consent:purpose-edit", args=[purpose.pk]), _edit_data(purpose, key="renamed"))

    purpose.refresh_from_db()
    assert purpose.key == "newsletter"


def test_a_purpose_is_switched_off_not_deleted_and_its_notices_stay(ada):
    purpose = _purpose()

    response = ada.post(
        reverse("consent:purpose-edit", args=[purpose.pk]), _edit_data(purpose, is_active="")
    )

    assert response.status_code == 302
    purpose.refresh_from_db()
    assert not purpose.is_active
    assert purpose.notices.count() == 1
    assert "Inactive" in ada.get(reverse("consent:purposes")).content.decode()


def test_flags_and_legal_basis_can_change(ada):
    purpose = _purpose(is_marketing=True)

    ada.post(
        reverse("consent:purpose-edit", args=[purpose.pk]),
        _edit_data(
            purpose,
            is_marketing="",
            is_profiling="on",
            legal_basis=LegalBasis.LEGITIMATE_INTEREST,
        ),
    )

    purpose.refresh_from_db()
    assert (purpose.is_marketing, purpose.is_profiling) == (False, True)
    assert purpose.legal_basis == LegalBasis.LEGITIMATE_INTEREST


def test_an_empty_notice_text_is_refused_and_nothing_changes(ada):
    purpose = _purpose()

    response = ada.post(
        reverse("consent:purpose-edit", args=[purpose.pk]),
        _edit_data(purpose, name_en="Changed", text_en="   "),
    )

    assert response.status_code == 200
    assert "text_en" in response.context["form"].errors
    purpose.refresh_from_db()
    assert purpose.name_en == "Newsletter"
    assert purpose.notices.count() == 1


def test_an_unknown_purpose_is_404(ada):
    assert ada.get(reverse("consent:purpose-edit", args=[999999])).status_code == 404
    assert ada.get(reverse("consent:purpose-notices", args=[999999])).status_code == 404


def test_the_notice_history_shows_every_version_in_full(ada):
    purpose = _purpose()
    ada.post(
        reverse("consent:purpose-edit", args=[purpose.pk]),
        _edit_data(purpose, text_en="Second <b>wording</b>", text_nl="Tweede"),
    )

    response = ada.get(reverse("consent:purpose-notices", args=[purpose.pk]))

    html = response.content.decode()
    assert "We mail you monthly." in html and "Maandelijks." in html
    assert "Second &lt;b&gt;wording&lt;/b&gt;" in html and "Tweede" in html
    assert html.index("Version 2") < html.index("Version 1")
    assert "Ada" in html


def test_a_change_of_flags_or_legal_basis_is_kept_with_who_and_when(ada, admin_user):
    from consent.models import PurposeChange

    purpose = _purpose(is_marketing=True)

    ada.post(
        reverse("consent:purpose-edit", args=[purpose.pk]),
        _edit_data(purpose, legal_basis=LegalBasis.LEGITIMATE_INTEREST),
    )
    # Saved again as it is: nothing changed, nothing recorded.
    ada.post(
        reverse("consent:purpose-edit", args=[purpose.pk]),
        _edit_data(purpose, legal_basis=LegalBasis.LEGITIMATE_INTEREST),
    )

    (change,) = PurposeChange.objects.filter(purpose=purpose)
    assert change.changes == {"legal_basis": ["consent", "legitimate_interest"]}
    assert change.actor == admin_user
    page = ada.get(reverse("consent:purpose-notices", args=[purpose.pk])).content.decode()
    assert "legal_basis" in page and "legitimate_interest" in page
