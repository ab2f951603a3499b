"""Admin pages of consent: purposes, notices, records of processing."""

from django.urls import path

from consent import views

app_name = "consent"

urlpatterns = [
    path("", views.purpose_list, name="purposes"),
    path("new/", views.purpose_create, name="purpose-create"),
    path("<int:pk>/", views.purpose_edit, name="purpose-edit"),
    path("<int:pk>/notices/", views.purpose_notices, name="purpose-notices"),
    path("processing/", views.processing, name="processing"),
    path("processing/export.csv", views.processing_export, name="processing-export"),
]
