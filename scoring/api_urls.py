"""The scoring endpoints, under /api/v1/ in the `api` namespace (see api/urls.py)."""

from django.urls import path

from scoring import api

urlpatterns = [
    path("leads/<int:pk>/score/", api.LeadScoreView.as_view(), name="lead-score"),
    path("leads/<int:pk>/transition/", api.LeadTransitionView.as_view(), name="lead-transition"),
]
