"""Scheduled work on patient data (Celery beat): retention daily, invitations every minute."""

import logging

from celery import shared_task

from intake.services import drafts, invitations, retention

logger = logging.getLogger(__name__)


@shared_task(name="intake.apply_retention", ignore_result=True)
def apply_retention() -> None:
    retention.anonymise_expired()
    retention.anonymise_expired_appointments()
    drafts.delete_expired()
    retention.forget_idempotency_keys()


@shared_task(name="intake.send_invitations", ignore_result=True)
def send_invitations() -> None:
    report = invitations.send_due()
    if report.invitations or report.reminders or report.failed:
        logger.info("invitations sent %s, reminders sent %s, failed %s", report.invitations,
                    report.reminders, report.failed)
