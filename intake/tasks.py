"""Scheduled housekeeping of patient data (Celery beat, daily)."""

from celery import shared_task

from intake.services import retention


@shared_task(name="intake.apply_retention", ignore_result=True)
def apply_retention() -> None:
    retention.anonymise_expired()
    retention.forget_idempotency_keys()
