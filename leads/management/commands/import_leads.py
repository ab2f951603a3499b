"""`manage.py import_leads FILE.csv`: the browser's CSV import, from a shell."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError

from imports import services
from imports.mapping import IGNORE, mapping_problems
from imports.parsing import CsvProblem, inspect_csv, iter_rows

DELIMITERS = {";": ";", ",": ",", "tab": "\t", "\\t": "\t", "\t": "\t"}
ERRORS_PRINTED = 20


class Command(BaseCommand):
    help = (
        "Import leads from a CSV file (UTF-8, ';' or ',' separated, with a header row) through "
        "the same mapping suggestions and capture service as the browser import."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the CSV file")
        parser.add_argument(
            "--mapping",
            choices=["auto"],
            default="auto",
            help="auto: the mapping remembered for these columns, else suggestions (default)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check every row and report; save nothing"
        )
        parser.add_argument("--user", help="username recorded as the importer")
        parser.add_argument(
            "--delimiter", choices=sorted(DELIMITERS), help="the separator (default: detect)"
        )

    def handle(self, *args, file: str, dry_run: bool, user: str | None, delimiter, **options):
        path = Path(file)
        importer = self._user(user)
        try:
            with path.open("rb") as binary:
                inspection = inspect_csv(binary, delimiter=DELIMITERS.get(delimiter or ""))
        except OSError as error:
            raise CommandError(f"{path}: cannot be read: {error.strerror or error}") from error
        except CsvProblem as problem:
            raise CommandError(f"{path}: {problem}") from problem

        mapping = services.proposed_mapping(headers=inspection.headers)
        self._print_mapping(inspection.headers, mapping)
        if problems := mapping_problems(mapping):
            raise CommandError(" ".join(problems))

        if dry_run:
            with path.open("rb") as binary:
                result = services.dry_run(
                    rows=iter_rows(binary, delimiter=inspection.delimiter), mapping=mapping
                )
            self.stdout.write(
                f"Dry run of {result.rows} rows: {result.valid} valid, {result.invalid} with "
                f"errors; {result.create} new leads, {result.update} updates "
                f"({result.duplicates} of an address earlier in the file). Nothing was saved."
            )
            self._print_errors(
                (entry["row"], entry["email"], entry["errors"]) for entry in result.errors
            )
            return

        with path.open("rb") as binary:
            job = services.create_import_job(
                upload=File(binary, name=path.name), inspection=inspection, user=importer
            )
        job = services.import_now(
            job=job, mapping=mapping, user=importer, on_progress=self._progress
        )
        self.stdout.write(
            f"Import {job.pk} {job.get_status_display().lower()}: {job.done_rows} of "
            f"{job.total_rows} rows; {job.created_count} leads created, {job.updated_count} "
            f"updated, {job.rejected_count} rows rejected."
        )
        self._print_errors(
            (error.row_number, error.email, error.errors)
            for error in job.row_errors.all()[:ERRORS_PRINTED]
        )
        if job.error:
            raise CommandError(job.error)

    def _user(self, username: str | None):
        if not username:
            return None
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as error:
            raise CommandError(f"no user named {username!r}") from error

    def _print_mapping(self, headers: list[str], mapping: list[str]) -> None:
        for header, target in zip(headers, mapping, strict=True):
            self.stderr.write(f"  {header or '(no name)'} -> {target if target != IGNORE else '-'}")

    def _print_errors(self, errors) -> None:
        for printed, (row, email, messages) in enumerate(errors):
            if printed == ERRORS_PRINTED:
                self.stdout.write("  ...")
                break
            problems = "; ".join(
                f"{field}: {message}" for field, texts in messages.items() for message in texts
            )
            self.stdout.write(f"  row {row} {email or '(no address)'}: {problems}")

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"  {done} of {total} rows", ending="\r")
