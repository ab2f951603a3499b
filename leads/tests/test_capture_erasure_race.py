"""A capture that meets an erasure of the same address while it commits must not bring the
erased person back (found in review: the statement had read the suppression list before the
erasure committed, waited on the erased row, then inserted the person anew)."""

import threading
import time

import pytest
from django.db import connection, transaction

from leads.models import Lead, Source
from leads.services.capture import ERASED_ADDRESS, CaptureContext, CaptureRejected, capture_lead
from leads.tests.factories import LeadFactory
from privacy import services as privacy

EMAIL = "race.erase@example.org"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks of PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_capture_racing_an_erasure_does_not_recreate_the_person():
    lead = LeadFactory(email=EMAIL, first_name="Rita")
    erased = threading.Event()
    errors = []

    def eraser():
        try:
            with transaction.atomic():
                privacy.erase_subject(
                    lead=Lead.objects.get(pk=lead.pk), actor=None, reason="r", channel="web"
                )
                erased.set()
                time.sleep(1.5)  # the capture arrives while the erasure commits
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=eraser)
    thread.start()
    erased.wait(10)
    with pytest.raises(CaptureRejected) as refused:
        capture_lead(
            data={"email": EMAIL, "first_name": "Rita"},
            context=CaptureContext(channel=Source.API),
        )
    thread.join()

    assert not errors
    assert refused.value.errors == {"email": [str(ERASED_ADDRESS)]}
    assert privacy.is_suppressed(EMAIL)
    assert not Lead.objects.filter(email=EMAIL).exists()
