from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import UserCreateForm, UserRolesForm
from accounts.models import User

manage_users_required = permission_required("accounts.manage_users", raise_exception=True)


def _posted_data(request: HttpRequest) -> QueryDict | None:
    # Not `request.POST or None`: a POST with every checkbox cleared is empty, and must still
    # bind the form (clearing all roles and "active") instead of being ignored.
    return request.POST if request.method == "POST" else None


@manage_users_required
def user_list(request):
    users = User.objects.prefetch_related("groups").order_by("username")
    return render(request, "accounts/user_list.html", {"users": users})


@manage_users_required
def user_create(request):
    form = UserCreateForm(_posted_data(request))
    if request.method == "POST" and form.is_valid():
        user = services.create_user(actor=request.user, **form.cleaned_data)
        messages.success(
            request,
            _("%(username)s was created and an invitation is on its way.")
            % {"username": user.username},
        )
        return redirect("accounts:users")
    return render(request, "accounts/user_form.html", {"form": form, "title": _("New user")})


@manage_users_required
def user_edit(request, pk: int):
    user = get_object_or_404(User.objects.prefetch_related("groups"), pk=pk)
    initial = {"roles": [role.value for role in user.roles], "is_active": user.is_active}
    form = UserRolesForm(
        _posted_data(request), initial=initial, editing_self=user.pk == request.user.pk
    )
    if request.method == "POST" and form.is_valid():
        services.update_access(
            actor=request.user,
            user=user,
            roles=form.cleaned_data["roles"],
            active=form.cleaned_data["is_active"],
        )
        messages.success(request, _("Saved."))
        return redirect("accounts:users")
    events = user.account_events.select_related("actor")[:20]
    return render(
        request,
        "accounts/user_edit.html",
        {"form": form, "edited_user": user, "events": events},
    )


@manage_users_required
@require_POST
def user_invite(request, pk: int):
    user = get_object_or_404(User, pk=pk, is_active=True)
    services.request_invitation(actor=request.user, user=user)
    messages.success(
        request, _("A new invitation is on its way to %(email)s.") % {"email": user.email}
    )
    return redirect("accounts:user-edit", pk=user.pk)
