import signal

from django.core.management.base import BaseCommand

from outbox.services import relay_forever


class Command(BaseCommand):
    help = "Publish outbox tasks to the broker as soon as their transaction commits."

    def handle(self, *args, **options):
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("outbox relay running")
        relay_forever(stop=lambda: stopping)
        self.stdout.write("outbox relay stopped")
