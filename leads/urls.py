from django.urls import path

from leads import views
from sales import views as sales_views

app_name = "leads"

urlpatterns = [
    path("", views.lead_list, name="list"),
    # The sales workspace (sales/): MQLs waiting for sales, and a rep's own leads.
    path("queue/", sales_views.queue, name="queue"),
    path("mine/", sales_views.my_leads, name="my-leads"),
    path("new/", views.lead_create, name="create"),
    path("assign/", views.lead_assign, name="assign"),
    path("export/", views.lead_export, name="export"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/edit/", views.lead_edit, name="edit"),
    path("<int:pk>/merge/", views.lead_merge, name="merge"),
]
