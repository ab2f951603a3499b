"""The account use cases: creating users, inviting them, changing roles and access."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import AccountEvent, User
from accounts.roles import Role
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a ladder of eleven rungs"


def _link_in(message) -> str:
    match = re.search(r"https?://\S+", message.body)
    assert match, f"no link in: {message.body}"
    return match.group(0)


def _kinds(user: User) -> list[str]:
    return list(user.account_events.order_by("id").values_list("kind", flat=True))


def _create_bert(actor: User | None, **kwargs) -> User:
    return services.create_user(
        actor=actor,
        username="bert",
        email=" Bert@Example.NL ",
        first_name="Bert",
        roles=[Role.SALES_REP],
        **kwargs,
    )


def test_created_user_has_roles_no_usable_password_and_a_lowercase_email(admin_user):
    bert = _create_bert(admin_user)

    assert bert.email == "bert@example.nl"
    assert bert.roles == [Role.SALES_REP]
    assert not bert.has_usable_password()
    assert bert.is_active


def test_creating_a_user_records_who_created_them_and_requests_an_invitation(admin_user):
    bert = _create_bert(admin_user)

    created = bert.account_events.get(kind=AccountEvent.Kind.CREATED)
    assert created.actor == admin_user
    assert created.detail == {"roles": ["sales_rep"]}
    assert _kinds(bert) == ["created", "invitation_requested"]
    assert bert.invitation_pending


def test_creating_a_user_enqueues_the_invitation_only_after_commit(
    admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        bert = _create_bert(admin_user)

    assert len(callbacks) == 1
    # Nothing is sent before the transaction commits: the worker must find the row.
    assert mail.outbox == []
    bert.refresh_from_db()
    assert bert.invitation_sent_at is None


def test_creating_a_user_sends_the_invitation_through_the_task(
    admin_user, django_capture_on_commit_callbacks, eager_tasks
):
    with django_capture_on_commit_callbacks(execute=True):
        bert = _create_bert(admin_user)

    assert [message.to for message in mail.outbox] == [["bert@example.nl"]]
    bert.refresh_from_db()
    assert bert.invitation_sent_at is not None
    assert not bert.invitation_pending


def test_creating_a_user_without_invitation_sends_nothing(
    admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        bert = _create_bert(admin_user, send_invitation=False)

    assert callbacks == []
    assert _kinds(bert) == ["created"]
    assert not bert.invitation_pending


def test_creating_a_user_with_an_unknown_role_creates_nothing(admin_user):
    with pytest.raises(ValueError, match="overlord"):
        services.create_user(
            actor=admin_user, username="bert", email="bert@example.nl", roles=["overlord"]
        )

    assert not User.objects.filter(username="bert").exists()


def test_invitation_mail_links_to_setting_a_password_then_logging_in(client, admin_user):
    bert = _create_bert(admin_user)

    assert services.send_invitation(user_id=bert.pk) is True

    [message] = mail.outbox
    assert message.to == ["bert@example.nl"]
    assert message.subject == "You are invited to Leadladder"
    assert "Your username is bert." in message.body
    link = _link_in(message)
    assert link.startswith("http://127.0.0.1:8000/accounts/password/set/")

    # The confirm view swaps the token for a session key and redirects to the form.
    response = client.get(link.removeprefix("http://127.0.0.1:8000"))
    assert response.status_code == 302
    response = client.post(
        response.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == reverse("accounts:password-set-done")

    response = client.post(
        reverse("accounts:login"), {"username": "bert", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(bert.pk)


def test_invitation_link_works_only_once(client, admin_user):
    bert = _create_bert(admin_user)
    services.send_invitation(user_id=bert.pk)
    path = _link_in(mail.outbox[0]).removeprefix("http://127.0.0.1:8000")
    form_url = client.get(path).url
    client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = client.get(path)

    assert response.status_code == 200
    assert response.context["validlink"] is False


def test_invitation_link_starts_with_the_given_base_url(admin_user):
    bert = _create_bert(admin_user)

    services.send_invitation(user_id=bert.pk, base_url="https://crm.example.nl/")

    assert _link_in(mail.outbox[0]).startswith("https://crm.example.nl/accounts/password/set/")


def test_sending_an_invitation_twice_sends_one_mail(admin_user):
    bert = _create_bert(admin_user)

    first = services.send_invitation(user_id=bert.pk)
    second = services.send_invitation(user_id=bert.pk)

    assert (first, second) == (True, False)
    assert len(mail.outbox) == 1
    assert _kinds(bert) == ["created", "invitation_requested", "invitation_sent"]


def test_a_new_invitation_request_after_sending_sends_a_new_mail(admin_user):
    bert = _create_bert(admin_user)
    services.send_invitation(user_id=bert.pk)

    services.request_invitation(actor=admin_user, user=bert)
    services.send_invitation(user_id=bert.pk)

    assert len(mail.outbox) == 2
    assert _kinds(bert).count("invitation_sent") == 2


def test_no_invitation_is_sent_to_a_user_who_did_not_ask_for_one(sales_rep):
    assert services.send_invitation(user_id=sales_rep.pk) is False
    assert mail.outbox == []


def test_no_invitation_is_sent_to_a_deactivated_user(admin_user):
    bert = _create_bert(admin_user)
    services.set_active(actor=admin_user, user=bert, active=False)

    assert services.send_invitation(user_id=bert.pk) is False
    assert mail.outbox == []


def test_sending_an_invitation_to_a_deleted_user_does_nothing(admin_user):
    bert = _create_bert(admin_user)
    bert_id = bert.pk
    bert.delete()

    assert services.send_invitation(user_id=bert_id) is False
    assert mail.outbox == []


def test_changing_roles_records_before_and_after_and_the_actor(admin_user, sales_rep):
    services.change_roles(
        actor=admin_user, user=sales_rep, roles=[Role.SALES_MANAGER, Role.SALES_REP]
    )

    sales_rep.refresh_from_db()
    assert sales_rep.roles == [Role.SALES_MANAGER, Role.SALES_REP]
    event = sales_rep.account_events.get()
    assert event.kind == AccountEvent.Kind.ROLES_CHANGED
    assert event.actor == admin_user
    assert event.detail == {"before": ["sales_rep"], "after": ["sales_manager", "sales_rep"]}


def test_taking_away_every_role_is_recorded(admin_user, marketer):
    services.change_roles(actor=admin_user, user=marketer, roles=[])

    assert marketer.roles == []
    assert marketer.account_events.get().detail == {"before": ["marketer"], "after": []}


def test_setting_the_same_roles_again_records_nothing(admin_user, sales_rep):
    services.change_roles(actor=admin_user, user=sales_rep, roles=[Role.SALES_REP])
    services.change_roles(actor=admin_user, user=sales_rep, roles=["sales_rep", "sales_rep"])

    assert not sales_rep.account_events.exists()


def test_changing_to_an_unknown_role_changes_nothing(admin_user, sales_rep):
    with pytest.raises(ValueError, match="overlord"):
        services.change_roles(actor=admin_user, user=sales_rep, roles=[Role.ADMIN, "overlord"])

    assert sales_rep.roles == [Role.SALES_REP]
    assert not sales_rep.account_events.exists()


def test_deactivating_and_reactivating_are_recorded_with_the_actor(admin_user, sales_rep):
    services.set_active(actor=admin_user, user=sales_rep, active=False)
    sales_rep.refresh_from_db()
    assert not sales_rep.is_active

    services.set_active(actor=admin_user, user=sales_rep, active=True)
    sales_rep.refresh_from_db()
    assert sales_rep.is_active

    assert _kinds(sales_rep) == ["deactivated", "reactivated"]
    assert {event.actor for event in sales_rep.account_events.all()} == {admin_user}


def test_deactivating_an_inactive_user_records_nothing(admin_user):
    gone = UserFactory(username="gone", is_active=False)

    services.set_active(actor=admin_user, user=gone, active=False)

    assert not gone.account_events.exists()


def test_an_admin_working_in_dutch_invites_in_dutch(admin_user):
    from django.utils import translation

    with translation.override("nl"):
        user = services.create_user(
            actor=admin_user, username="joke", email="joke@example.nl", roles=[Role.MARKETER]
        )
    services.send_invitation(user_id=user.pk)

    assert user.language == "nl"
    assert mail.outbox[-1].subject == "Je bent uitgenodigd voor Leadladder"


def test_a_failed_access_edit_saves_neither_roles_nor_active_state(admin_user, sales_rep):
    with pytest.raises(ValueError):
        services.update_access(actor=admin_user, user=sales_rep, roles=["pope"], active=False)

    sales_rep.refresh_from_db()
    assert sales_rep.is_active
    assert [role.value for role in User.objects.get(pk=sales_rep.pk).roles] == [Role.SALES_REP]
