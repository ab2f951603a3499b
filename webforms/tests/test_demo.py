from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from webforms.models import WebForm

pytestmark = pytest.mark.django_db


def test_seed_demo_installs_a_working_whitepaper_form_once(client):
    call_command("seed_demo", leads=5, stdout=StringIO())
    call_command("seed_demo", leads=5, stdout=StringIO())

    form = WebForm.objects.get()
    assert form.slug == "whitepaper" and form.is_active
    assert set(form.purposes.values_list("key", flat=True)) == {"contact", "marketing_email"}
    response = client.get(reverse("webforms:public", kwargs={"slug": "whitepaper"}))
    assert response.status_code == 200
