from django.urls import path

from activities.pipeline import pipeline
from funnel.dashboard import dashboard, dashboard_csv, sla
from quota.views import quota

app_name = "funnel"

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("csv/", dashboard_csv, name="dashboard-csv"),
    path("sla/", sla, name="dashboard-sla"),
    # The board sales works opportunities on (activities/), the calculator marketing plans
    # with (quota/): both read the funnel, so they live under its address.
    path("pipeline/", pipeline, name="pipeline"),
    path("quota/", quota, name="quota"),
]
