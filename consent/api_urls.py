"""The consent endpoints, under /api/v1/ in the `api` namespace (see api/urls.py)."""

from django.urls import path

from consent import api

urlpatterns = [
    path("consents/", api.ConsentsView.as_view(), name="consents"),
]
