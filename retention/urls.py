from django.urls import path

from retention import views

app_name = "retention"

urlpatterns = [
    path("", views.policies, name="policies"),
    path("new/", views.policy_create, name="policy-create"),
    path("<int:pk>/edit/", views.policy_edit, name="policy-edit"),
    path("dry-run/", views.dry_run, name="dry-run"),
    path("dry-run.csv", views.dry_run_csv, name="dry-run-csv"),
    path("apply/", views.apply, name="apply"),
]
