from django.urls import path

from imports import views

app_name = "imports"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/columns/", views.mapping, name="mapping"),
    path("<int:pk>/start/", views.start, name="start"),
    path("<int:pk>/errors.csv", views.errors_csv, name="errors"),
]
