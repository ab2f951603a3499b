from django.urls import path

from activities import views

app_name = "activities"

urlpatterns = [
    path("leads/<int:pk>/", views.panel, name="panel"),
    path("leads/<int:pk>/log/<slug:kind>/", views.log, name="log"),
    path("leads/<int:pk>/tasks/new/", views.add_task, name="add-task"),
    path("leads/<int:pk>/move/<slug:action>/", views.move, name="move"),
    path("tasks/<int:pk>/done/", views.task_done, name="task-done"),
]
