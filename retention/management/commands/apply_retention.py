from django.core.management.base import BaseCommand, CommandParser

from retention.services import apply_retention


class Command(BaseCommand):
    help = "Erase the leads the active retention policies say have expired (as the nightly run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count and record what would be erased."
        )
        parser.add_argument("--limit", type=int, help="Erase at most this many leads.")

    def handle(self, *args, dry_run: bool, limit: int | None, **options) -> None:
        if limit is not None and limit < 1:
            self.stderr.write("--limit must be 1 or more.")
            raise SystemExit(2)
        result = apply_retention(limit=limit, dry_run=dry_run)
        for count in result.counts:
            self.stdout.write(
                f"{count['name']}: {count['expired']} expired, {count['erased']} erased, "
                f"{count['failed']} failed"
            )
        self.stdout.write(f"run {result.run.pk}: {result.erased} erased, {result.failed} failed")
