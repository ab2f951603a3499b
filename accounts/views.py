from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import services
from accounts.forms import UserCreateForm, UserRolesForm
from accounts.models import User

manage_users_required = permission_required("accounts.manage_users", raise_exception=True)


@manage_users_required
def user_list(request):
    users = User.objects.prefetch_related("groups").order_by("username")
    return render(request, "accounts/user_list.html", {"users": users})


@manage_users_required
def user_create(request):
    form = UserCreateForm(request.POST or None)
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
        request.POST or None, initial=initial, editing_self=user.pk == request.user.pk
    )
    if request.method == "POST" and form.is_valid():
        services.change_roles(actor=request.user, user=user, roles=form.cleaned_data["roles"])
        services.set_active(actor=request.user, user=user, active=form.cleaned_data["is_active"])
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
