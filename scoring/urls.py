from django.urls import path

from scoring import views

app_name = "scoring"

urlpatterns = [
    path("nurture/", views.nurture, name="nurture"),
    # The criteria: read by everyone who works leads, edited and published by admins.
    path("criteria/", views.criteria, name="criteria"),
    path("criteria/draft/", views.draft, name="draft"),
    path("criteria/<int:pk>/edit/", views.edit, name="edit"),
    path("criteria/<int:pk>/preview/", views.preview, name="preview"),
    path("criteria/<int:pk>/publish/", views.publish, name="publish"),
    path("runs/<int:pk>/", views.run, name="run"),
]
