from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("requests/", views.requests, name="requests"),
    path("leads/<int:pk>/export/", views.export, name="export"),
    path("leads/<int:pk>/erase/", views.erase, name="erase"),
]
