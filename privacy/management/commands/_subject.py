"""Finding the person a command is about (not a command: the name starts with _)."""

from django.core.management.base import CommandError

from leads.models import Lead
from privacy import services


def subject_or_error(email: str) -> Lead:
    try:
        return services.find_subject(email)
    except services.SubjectErased as error:
        raise CommandError(
            f"{email} was erased before; nothing is held on this person any more."
        ) from error
    except services.SubjectNotFound as error:
        raise CommandError(f"No lead has the e-mail address {email}.") from error
