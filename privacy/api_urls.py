from django.urls import path

from privacy import api

urlpatterns = [
    path("subjects/export/", api.SubjectExportView.as_view(), name="subject-export"),
    path("subjects/erase/", api.SubjectEraseView.as_view(), name="subject-erase"),
]
