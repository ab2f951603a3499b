"""What every persona gets from a GET of the consent pages (see tests/access.py)."""

from consent.tests.url_access_admin import ROWS as ADMIN_ROWS
from consent.tests.url_access_subject import ROWS as SUBJECT_ROWS

ROWS = {**ADMIN_ROWS, **SUBJECT_ROWS}
