from django.urls import path

from sales import views

app_name = "sales"

urlpatterns = [
    # The queue itself is leads:queue; these are its row actions.
    path("queue/<int:pk>/claim/", views.claim, name="claim"),
    path("queue/<int:pk>/score/", views.explain, name="explain"),
    path("queue/assign/", views.assign_now, name="assign-now"),
    path("away/", views.away, name="away"),
    path("rules/", views.rules, name="rules"),
    path("rules/new/", views.rule_edit, name="rule-create"),
    path("rules/<int:pk>/", views.rule_edit, name="rule-edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rule-delete"),
    path("rules/<int:pk>/move/", views.rule_move, name="rule-move"),
    path("teams/", views.teams, name="teams"),
    path("teams/new/", views.team_edit, name="team-create"),
    path("teams/<int:pk>/", views.team_edit, name="team-edit"),
    path("breaches/", views.breaches, name="breaches"),
]
