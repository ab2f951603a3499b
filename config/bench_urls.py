"""The project's URLs plus a minimal view: the floor that `manage.py bench` measures against."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns


@login_not_required
def minimal(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("_bench/minimal/", minimal), *project_urlpatterns]
