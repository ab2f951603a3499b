from django.core.management.base import BaseCommand, CommandError, CommandParser

from leads.normalise import normalise_email
from privacy import services
from privacy.management.commands._subject import subject_or_error
from privacy.models import Channel


class Command(BaseCommand):
    help = (
        "Erase the person with this e-mail address everywhere, keeping only a salted hash of "
        "the address on the suppression list. Cannot be undone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--reason", required=True, help="Why, for the log.")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, email: str, reason: str, yes: bool, **options) -> None:
        if not reason.strip():
            raise CommandError("Give a reason with --reason.")
        lead = subject_or_error(email)
        merged = len(services.subject_leads(lead)) - 1
        if not yes:
            self.stdout.write(
                f"This erases lead {lead.pk}"
                + (f" and the {merged} lead(s) merged into it" if merged else "")
                + ", with its events, notes, stage history, consents and import leftovers."
            )
            answer = input(f"Type the e-mail address ({email}) to confirm: ")
            if normalise_email(answer) != normalise_email(email):
                raise CommandError("Not confirmed; nothing was erased.")
        log = services.erase_subject(lead=lead, actor=None, reason=reason, channel=Channel.COMMAND)
        removed = ", ".join(f"{count} {kind}" for kind, count in log.counts.items() if count)
        self.stdout.write(self.style.SUCCESS(f"Erased ({removed}). Reference: {log.reference}"))
