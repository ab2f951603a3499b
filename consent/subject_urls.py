"""Pages and actions about one data subject's consent, for logged-in users (the consent panel
on the lead page: record a verbal choice, resend a confirmation)."""

from django.urls import path

from consent import subject_views

app_name = "consent_subject"

urlpatterns: list = [
    path("<int:subject_id>/record/", subject_views.record, name="record"),
    path("<int:subject_id>/resend/", subject_views.resend, name="resend"),
]
