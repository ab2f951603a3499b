from django.urls import path

from webforms import views

app_name = "webforms"

urlpatterns = [
    # Admin pages.
    path("forms/", views.form_list, name="list"),
    path("forms/new/", views.form_create, name="create"),
    path("forms/<int:pk>/", views.form_detail, name="detail"),
    path("forms/<int:pk>/edit/", views.form_edit, name="edit"),
    path("forms/<int:pk>/preview/", views.form_preview, name="preview"),
    # The public pages visitors fill in, hosted or embedded.
    path("f/<slug:slug>/", views.public_form, name="public"),
    path("f/<slug:slug>/thanks/", views.thanks, name="thanks"),
]
