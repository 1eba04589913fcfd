"""Celery tasks: thin entry points that take ids and call the alerting service.

Each is safe to run twice (the service claims its work with a conditional update) and is
queued only after the transaction that made the work commits.
"""

from celery import shared_task

from clinic import alerts, heartbeats


@shared_task(name="clinic.deliver_notification", ignore_result=True)
def deliver_notification(notification_id: int) -> None:
    alerts.deliver(notification_id)


@shared_task(name="clinic.deliver_digest", ignore_result=True)
def deliver_digest(clinician_id: int) -> None:
    alerts.deliver_digest(clinician_id)


@shared_task(name="clinic.sweep_alerts", ignore_result=True)
def sweep_alerts() -> None:
    alerts.sweep()


@shared_task(name="clinic.ping_heartbeat_url", ignore_result=True)
def ping_heartbeat_url() -> None:
    heartbeats.ping_heartbeat_url()
