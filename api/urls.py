"""Version 1 of the REST API, under /api/v1/. Each app adds its endpoints here."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("leads.api.urls")),
    path("", include("scoring.api_urls")),
    path("", include("consent.api_urls")),
    path("", include("privacy.api_urls")),
]
