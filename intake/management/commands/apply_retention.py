"""Anonymise submissions past the retention period now (Celery beat also does this daily)."""

from django.core.management.base import BaseCommand

from intake.services import retention


class Command(BaseCommand):
    help = "Anonymise submissions older than DATA_RETENTION_DAYS and forget old idempotency keys."

    def handle(self, *args, **options):
        anonymised = retention.anonymise_expired()
        forgotten = retention.forget_idempotency_keys()
        self.stdout.write(f"Anonymised {anonymised} submission(s); forgot {forgotten} "
                          "idempotency key(s).")
