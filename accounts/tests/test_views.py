"""The pages of accounts: managing users, logging in and out, changing passwords."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from accounts.models import AccountEvent, User
from accounts.roles import Role
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # what UserFactory gives everyone
NEW_PASSWORD = "a ladder of eleven rungs"


def _logged_in_user_id(client) -> str | None:
    return client.session.get(SESSION_KEY)


def _form_errors(response) -> dict:
    return response.context["form"].errors


# --- Managing users ---------------------------------------------------------------------------


def test_admin_sees_every_user_with_their_roles(client, admin_user, marketer, no_role_user):
    client.force_login(admin_user)

    response = client.get(reverse("accounts:users"))

    assert response.status_code == 200
    assert list(response.context["users"]) == [admin_user, marketer, no_role_user]
    assert "Marketer" in response.content.decode()


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "no_role_user"])
def test_users_who_do_not_manage_users_cannot_create_or_edit_them(client, request, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    create = client.post(
        reverse("accounts:user-create"),
        {"username": "bert", "email": "bert@example.nl", "roles": [Role.ADMIN]},
    )
    edit = client.post(
        reverse("accounts:user-edit", args=[user.pk]), {"roles": [Role.ADMIN], "is_active": "on"}
    )

    assert (create.status_code, edit.status_code) == (403, 403)
    assert not User.objects.filter(username="bert").exists()
    assert not user.has_role(Role.ADMIN)


def test_admin_creates_a_user_who_gets_an_invitation(
    client, admin_user, django_capture_on_commit_callbacks, eager_tasks
):
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("accounts:user-create"),
            {
                "username": "bert",
                "email": "Bert@Example.nl",
                "first_name": "Bert",
                "roles": [Role.SALES_REP, Role.MARKETER],
            },
        )

    assert response.status_code == 302
    assert response.url == reverse("accounts:users")
    bert = User.objects.get(username="bert")
    assert bert.roles == [Role.SALES_REP, Role.MARKETER]
    assert bert.account_events.get(kind=AccountEvent.Kind.CREATED).actor == admin_user
    assert [message.to for message in mail.outbox] == [["bert@example.nl"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [("username", "BOB"), ("email", "Bob@Leadladder.test")],
)
def test_creating_a_user_whose_username_or_email_is_taken_shows_an_error(
    client, admin_user, sales_rep, field, value
):
    client.force_login(admin_user)
    data = {"username": "bert", "email": "bert@example.nl", "roles": [Role.SALES_REP]}

    response = client.post(reverse("accounts:user-create"), {**data, field: value})

    assert response.status_code == 200
    assert field in _form_errors(response)
    assert User.objects.count() == 2
    assert not AccountEvent.objects.exists()


def test_creating_a_user_with_an_unknown_role_shows_an_error(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("accounts:user-create"),
        {"username": "bert", "email": "bert@example.nl", "roles": ["overlord"]},
    )

    assert response.status_code == 200
    assert "roles" in _form_errors(response)
    assert not User.objects.filter(username="bert").exists()


def test_creating_a_user_needs_at_least_one_role(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("accounts:user-create"), {"username": "bert", "email": "bert@example.nl"}
    )

    assert "roles" in _form_errors(response)
    assert not User.objects.filter(username="bert").exists()


def test_admin_changes_roles_and_the_change_is_in_the_history(client, admin_user, sales_rep):
    client.force_login(admin_user)
    url = reverse("accounts:user-edit", args=[sales_rep.pk])

    response = client.post(url, {"roles": [Role.SALES_MANAGER], "is_active": "on"})

    assert response.status_code == 302
    assert sales_rep.roles == [Role.SALES_MANAGER]
    event = sales_rep.account_events.get()
    assert (event.actor, event.detail) == (
        admin_user,
        {"before": ["sales_rep"], "after": ["sales_manager"]},
    )
    history = client.get(url)
    assert list(history.context["events"]) == [event]


def test_admin_deactivates_another_user(client, admin_user, sales_rep):
    client.force_login(admin_user)

    client.post(reverse("accounts:user-edit", args=[sales_rep.pk]), {"roles": [Role.SALES_REP]})

    sales_rep.refresh_from_db()
    assert not sales_rep.is_active
    assert sales_rep.account_events.get().kind == AccountEvent.Kind.DEACTIVATED


def test_clearing_every_box_takes_away_all_roles_and_access(client, admin_user, sales_rep):
    client.force_login(admin_user)

    # Unchecked checkboxes are not sent: the POST body is empty.
    response = client.post(reverse("accounts:user-edit", args=[sales_rep.pk]), {})

    assert response.status_code == 302
    sales_rep.refresh_from_db()
    assert (sales_rep.roles, sales_rep.is_active) == ([], False)


def test_admin_cannot_deactivate_themselves(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("accounts:user-edit", args=[admin_user.pk]), {"roles": [Role.ADMIN]}
    )

    assert response.status_code == 200
    assert "is_active" in _form_errors(response)
    admin_user.refresh_from_db()
    assert admin_user.is_active
    assert not admin_user.account_events.exists()


def test_admin_cannot_take_away_their_own_admin_role(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("accounts:user-edit", args=[admin_user.pk]),
        {"roles": [Role.SALES_MANAGER], "is_active": "on"},
    )

    assert response.status_code == 200
    assert "roles" in _form_errors(response)
    assert admin_user.roles == [Role.ADMIN]
    assert not admin_user.account_events.exists()


def test_admin_can_add_a_role_to_themselves(client, admin_user):
    client.force_login(admin_user)

    client.post(
        reverse("accounts:user-edit", args=[admin_user.pk]),
        {"roles": [Role.ADMIN, Role.SALES_MANAGER], "is_active": "on"},
    )

    assert admin_user.roles == [Role.ADMIN, Role.SALES_MANAGER]


def test_editing_with_an_unknown_role_changes_nothing(client, admin_user, sales_rep):
    client.force_login(admin_user)

    response = client.post(
        reverse("accounts:user-edit", args=[sales_rep.pk]),
        {"roles": [Role.ADMIN, "overlord"], "is_active": "on"},
    )

    assert response.status_code == 200
    assert "roles" in _form_errors(response)
    assert sales_rep.roles == [Role.SALES_REP]


def test_editing_a_user_who_does_not_exist_is_not_found(client, admin_user):
    client.force_login(admin_user)

    assert client.get(reverse("accounts:user-edit", args=[987654])).status_code == 404


def test_admin_sends_a_new_invitation(
    client, admin_user, sales_rep, django_capture_on_commit_callbacks, eager_tasks
):
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:user-invite", args=[sales_rep.pk]))

    assert response.status_code == 302
    assert response.url == reverse("accounts:user-edit", args=[sales_rep.pk])
    assert [message.to for message in mail.outbox] == [[sales_rep.email]]
    assert sales_rep.account_events.get(kind=AccountEvent.Kind.INVITATION_REQUESTED).actor == (
        admin_user
    )


def test_sending_an_invitation_needs_a_post(client, admin_user, sales_rep):
    client.force_login(admin_user)

    response = client.get(reverse("accounts:user-invite", args=[sales_rep.pk]))

    assert response.status_code == 405
    assert not sales_rep.account_events.exists()


def test_no_invitation_can_be_sent_to_a_deactivated_user(client, admin_user):
    gone = UserFactory(username="gone", is_active=False)
    client.force_login(admin_user)

    response = client.post(reverse("accounts:user-invite", args=[gone.pk]))

    assert response.status_code == 404
    assert not gone.account_events.exists()


# --- Logging in and out -------------------------------------------------------------------


def _log_in(client, username: str, password: str):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def test_login_page_is_public(client):
    response = client.get(reverse("accounts:login"))

    assert response.status_code == 200
    assert response.templates[0].name == "registration/login.html"


def test_user_logs_in_with_username_and_password(client, sales_rep):
    response = _log_in(client, "bob", PASSWORD)

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert _logged_in_user_id(client) == str(sales_rep.pk)


def test_login_returns_to_the_page_asked_for(client, admin_user):
    users = reverse("accounts:users")

    response = client.post(
        reverse("accounts:login"), {"username": "ada", "password": PASSWORD, "next": users}
    )

    assert response.url == users


def test_login_never_redirects_to_another_site(client, sales_rep):
    response = client.post(
        reverse("accounts:login"),
        {"username": "bob", "password": PASSWORD, "next": "https://evil.example/"},
    )

    assert response.url == reverse("home")


def test_wrong_password_shows_the_form_again(client, sales_rep):
    response = _log_in(client, "bob", "wrong")

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert _logged_in_user_id(client) is None


def test_deactivated_user_cannot_log_in(client):
    UserFactory(username="gone", is_active=False)

    response = _log_in(client, "gone", PASSWORD)

    assert response.status_code == 200
    assert _logged_in_user_id(client) is None


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, sales_rep):
    for _attempt in range(4):
        assert _log_in(client, "bob", "wrong").status_code == 200

    fifth = _log_in(client, "bob", "wrong")

    assert fifth.status_code == 429
    assert "accounts/locked_out.html" in [template.name for template in fifth.templates]
    assert "Too many failed log-in attempts" in fifth.content.decode()
    right = _log_in(client, "bob", PASSWORD)
    assert right.status_code == 429
    assert _logged_in_user_id(client) is None
    assert AccessAttempt.objects.filter(username="bob").exists()


def test_locking_one_username_leaves_others_alone(client, sales_rep, other_rep):
    for _attempt in range(5):
        _log_in(client, "bob", "wrong")

    response = _log_in(client, "rob", PASSWORD)

    assert response.status_code == 302
    assert _logged_in_user_id(client) == str(other_rep.pk)


def test_a_good_login_resets_the_count_of_failures(client, sales_rep):
    for _attempt in range(4):
        _log_in(client, "bob", "wrong")
    _log_in(client, "bob", PASSWORD)
    client.logout()

    for _attempt in range(4):
        assert _log_in(client, "bob", "wrong").status_code == 200


def test_logged_in_user_visiting_the_login_page_goes_home(client, sales_rep):
    client.force_login(sales_rep)

    response = client.get(reverse("accounts:login"))

    assert response.status_code == 302
    assert response.url == reverse("home")


def test_logout_needs_a_post(client, sales_rep):
    client.force_login(sales_rep)

    response = client.get(reverse("accounts:logout"))

    assert response.status_code == 405
    assert _logged_in_user_id(client) == str(sales_rep.pk)


def test_logout_by_post_ends_the_session(client, sales_rep):
    client.force_login(sales_rep)

    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert _logged_in_user_id(client) is None
    assert client.get(reverse("home")).status_code == 302


def test_a_deactivated_user_is_logged_out_on_the_next_request(client, admin_user, sales_rep):
    client.force_login(sales_rep)
    sales_rep.is_active = False
    sales_rep.save()

    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


# --- Passwords ------------------------------------------------------------------------------


def test_user_changes_their_password_and_logs_in_with_the_new_one(client, marketer):
    client.force_login(marketer)

    response = client.post(
        reverse("accounts:password-change"),
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert response.url == reverse("accounts:password-change-done")
    # Changing the password keeps this session logged in.
    assert client.get(response.url).status_code == 200
    client.logout()
    assert _log_in(client, "alice", PASSWORD).status_code == 200
    assert _log_in(client, "alice", NEW_PASSWORD).status_code == 302


def test_changing_the_password_needs_the_old_one(client, marketer):
    client.force_login(marketer)

    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "old_password" in _form_errors(response)
    marketer.refresh_from_db()
    assert marketer.check_password(PASSWORD)


def test_a_weak_new_password_is_refused(client, marketer):
    client.force_login(marketer)

    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )

    assert "new_password2" in _form_errors(response)


def test_user_resets_a_forgotten_password_by_email(client, marketer):
    response = client.post(reverse("accounts:password-reset"), {"email": "ALICE@leadladder.test"})

    assert response.status_code == 302
    assert response.url == reverse("accounts:password-reset-sent")
    [message] = mail.outbox
    assert message.to == ["alice@leadladder.test"]
    path = re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)
    form_url = client.get(path).url
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.url == reverse("accounts:password-set-done")
    assert _log_in(client, "alice", NEW_PASSWORD).status_code == 302


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client):
    response = client.post(reverse("accounts:password-reset"), {"email": "nobody@example.nl"})

    assert response.status_code == 302
    assert response.url == reverse("accounts:password-reset-sent")
    assert mail.outbox == []
