import time

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import autodiscover_modules

from accounts.models import User
from accounts.roles import Role
from leads.demo_data import DEMO_SEEDERS, DemoOwners, load_demo_leads

DEMO_USERS = [
    ("marketer", "Mila", "Marketing", Role.MARKETER),
    ("sales", "Sam", "Verkoop", Role.SALES_REP),
    ("sales2", "Sophie", "Verkoop", Role.SALES_REP),
    ("manager", "Max", "Manager", Role.SALES_MANAGER),
    ("admin", "Ada", "Beheer", Role.ADMIN),
]


class Command(BaseCommand):
    help = "Create one demo user per role and a realistic demo dataset. Safe to run twice."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=2_000, help="demo leads to ensure")
        parser.add_argument(
            "--events-per-lead", type=float, default=3.0, help="average events per lead"
        )

    def handle(self, *args, leads: int, events_per_lead: float, **options):
        users = self._ensure_users()
        started = time.monotonic()
        owners = DemoOwners([u.pk for u in users if u.has_role(Role.SALES_REP)])

        def progress(done: int, total: int) -> None:
            if total >= 50_000:
                self.stdout.write(f"  {done:>9,} / {total:,} leads")

        result = load_demo_leads(
            leads, owners=owners, events_per_lead=events_per_lead, progress=progress
        )
        autodiscover_modules("demo")
        for seed in DEMO_SEEDERS:
            for line in seed(users=users):
                self.stdout.write(line)
        seconds = time.monotonic() - started
        if result.leads:
            self.stdout.write(
                f"Added {result.leads:,} demo leads and {result.events:,} events "
                f"in {seconds:.1f} s."
            )
        else:
            self.stdout.write(f"The {leads:,} demo leads were there already; nothing added.")
        self.stdout.write("Demo logins (username / password):")
        for user in users:
            role = user.main_role.label if user.main_role else ""
            self.stdout.write(
                f"  {user.username:<10} / {settings.LEADLADDER_DEMO_PASSWORD}   ({role})"
            )

    @transaction.atomic
    def _ensure_users(self) -> list[User]:
        users = []
        for username, first, last, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@leadladder.demo",
                },
            )
            if created:
                user.set_password(settings.LEADLADDER_DEMO_PASSWORD)
                user.save()
                user.groups.set([Group.objects.get(name=role)])
            users.append(user)
        return users
