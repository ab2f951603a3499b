"""The leads endpoints, under /api/v1/ in the `api` namespace."""

from django.urls import path

from leads.api import views

urlpatterns = [
    path("leads/", views.LeadsView.as_view(), name="lead-list"),
    path("leads/<int:pk>/", views.LeadView.as_view(), name="lead-detail"),
    path("events/", views.EventsView.as_view(), name="events"),
]
