"""Token checks: the permissions read with the token, and the short per-process cache."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from api import authentication
from api.authentication import RoleTokenAuthentication

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="reads permissions in SQL"),
]


@pytest.fixture(autouse=True)
def empty_cache():
    authentication.forget_tokens()
    yield
    authentication.forget_tokens()


@pytest.mark.parametrize("persona", ["marketer", "sales_rep", "sales_manager", "admin_user"])
def test_the_permissions_read_with_the_token_are_those_django_grants(request, persona):
    user = request.getfixturevalue(persona)
    user.user_permissions.add(Permission.objects.get(codename="view_group"))
    key = Token.objects.create(user=user).key

    authenticated, token = RoleTokenAuthentication().authenticate_credentials(key)

    expected = ModelBackend().get_all_permissions(get_user_model().objects.get(pk=user.pk))
    assert authenticated.api_permissions == expected
    assert (authenticated.pk, token.key, token.user.pk) == (user.pk, key, user.pk)


def test_unknown_tokens_and_inactive_users_are_refused_in_drfs_words(marketer):
    key = Token.objects.create(user=marketer).key
    marketer.is_active = False
    marketer.save()

    with pytest.raises(AuthenticationFailed, match="Invalid token"):
        RoleTokenAuthentication().authenticate_credentials("nope")
    with pytest.raises(AuthenticationFailed, match="inactive"):
        RoleTokenAuthentication().authenticate_credentials(key)


def test_another_process_sees_a_change_once_the_cache_expires(marketer, settings, monkeypatch):
    settings.API_TOKEN_CACHE_SECONDS = 5
    key = Token.objects.create(user=marketer).key
    clock = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: clock[0])
    RoleTokenAuthentication().authenticate_credentials(key)
    # Another process takes the role away: no signal reaches this one.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_user_groups WHERE user_id = %s", [marketer.pk])

    clock[0] += 4.9
    still_cached, _token = RoleTokenAuthentication().authenticate_credentials(key)
    clock[0] += 0.1
    read_again, _token = RoleTokenAuthentication().authenticate_credentials(key)

    assert "leads.add_lead" in still_cached.api_permissions
    assert read_again.api_permissions == set()


def test_a_change_in_this_process_counts_at_once(marketer, settings):
    settings.API_TOKEN_CACHE_SECONDS = 60
    key = Token.objects.create(user=marketer).key
    RoleTokenAuthentication().authenticate_credentials(key)

    marketer.groups.remove(Group.objects.get(name="marketer"))
    after_role_change, _token = RoleTokenAuthentication().authenticate_credentials(key)
    Token.objects.filter(key=key).delete()

    assert after_role_change.api_permissions == set()
    with pytest.raises(AuthenticationFailed):
        RoleTokenAuthentication().authenticate_credentials(key)


def test_each_request_gets_its_own_user_object(marketer):
    key = Token.objects.create(user=marketer).key
    first, _token = RoleTokenAuthentication().authenticate_credentials(key)
    first.first_name = "changed by one request"

    second, _token = RoleTokenAuthentication().authenticate_credentials(key)

    assert second is not first
    assert second.first_name == marketer.first_name
