from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from privacy import services
from privacy.management.commands._subject import subject_or_error
from privacy.models import Channel


class Command(BaseCommand):
    help = "Write everything held on the person with this e-mail address to a zip file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--output",
            help="The zip file, or a folder to write it in (default: the current folder).",
        )

    def handle(self, *args, email: str, output: str | None, **options) -> None:
        lead = subject_or_error(email)
        content = services.export_subject(lead=lead, actor=None, channel=Channel.COMMAND)
        path = Path(output or ".")
        if path.is_dir():
            path = path / services.export_file_name(lead)
        try:
            path.write_bytes(content)
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error}") from error
        self.stdout.write(str(path.resolve()))
