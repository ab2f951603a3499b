"""Pages a data subject reaches through a signed link, without logging in."""

from django.urls import path

from consent import public_views

app_name = "consent_public"

urlpatterns: list = [
    path("confirm/<str:token>/", public_views.confirm, name="confirm"),
    path("confirm/<str:token>/resend/", public_views.resend, name="resend"),
    path("withdraw/<str:token>/", public_views.withdraw, name="withdraw"),
    path("preferences/<str:token>/", public_views.preferences, name="preferences"),
]
