"""Celery's periodic tasks: thin entry points that call the alerting service (the delivery tasks
live beside the delivery, in ``clinic.alerting.delivery``, and are imported here so that the
worker's autodiscovery registers them).

Each is safe to run twice and is queued only after the transaction that made the work commits.
"""

from celery import shared_task

from clinic.alerting import alerts, coverage, health
from clinic.alerting.delivery import deliver_digest_task, deliver_notification

__all__ = ["check_rota_coverage", "deliver_digest_task", "deliver_notification",
           "ping_heartbeat_url", "sweep_alerts"]


@shared_task(name="clinic.sweep_alerts", ignore_result=True)
def sweep_alerts() -> None:
    alerts.sweep()


@shared_task(name="clinic.ping_heartbeat_url", ignore_result=True)
def ping_heartbeat_url() -> None:
    health.ping_heartbeat_url()


@shared_task(name="clinic.check_rota_coverage", ignore_result=True)
def check_rota_coverage() -> None:
    """Daily: email each clinic's admins the problems of its rota in the next 7 days."""
    coverage.email_coverage_problems()
