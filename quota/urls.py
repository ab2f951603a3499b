"""Quota pages besides the calculator itself (funnel:quota): saved targets and the switch
that makes the calculator public."""

from django.urls import path

from quota import views

app_name = "quota"

urlpatterns = [
    path("targets/", views.targets, name="targets"),
    path("targets/new/", views.target_create, name="target-create"),
    path("targets/<int:pk>/activate/", views.target_activate, name="target-activate"),
    path("targets/<int:pk>/deactivate/", views.target_deactivate, name="target-deactivate"),
    path("targets/<int:pk>/delete/", views.target_delete, name="target-delete"),
    path("settings/", views.calculator_settings, name="settings"),
]
