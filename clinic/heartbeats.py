"""Heartbeats: each background process says, in the database, that it is alive, so /healthz can
tell a dead worker or a stopped beat from a quiet day; and an optional dead-man's switch outside
the service (``HEARTBEAT_URL``) that pages the operator when the pings stop.

- The **worker** writes ``worker:<hostname>`` every ``HEARTBEAT_SECONDS`` from a timer in its
  main process (``WorkerHeartbeat``, a bootstep that ``config.celery`` adds), whether or not
  there is work.
- **Beat** writes ``beat`` from its scheduler loop (``BeatScheduler``), at most every
  ``HEARTBEAT_SECONDS``.
- The alert sweep (beat -> broker -> worker) writes ``alert-sweep`` when it has run
  (``clinic.alerting.alerts.sweep``): the three together working.
- ``ping_heartbeat_url`` (``clinic.alerting.health``) is scheduled by beat every minute and
  runs on a worker, so the outside service hears from us only while beat, the broker and a
  worker all work; it reports a failure (``<url>/fail``, as healthchecks.io reads it) when
  alerts could not be delivered.
"""

import datetime
import logging
import time

from celery import bootsteps
from celery.beat import PersistentScheduler
from django.db import DatabaseError
from django.utils import timezone

from clinic.models import Heartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
WORKER_PREFIX = "worker:"
BEAT = "beat"


def beat_now(name: str) -> None:
    """Record that ``name`` is alive now.  A database outage is logged, not raised: the process
    must keep running, and the missing heartbeat is itself the signal."""
    try:
        Heartbeat.objects.update_or_create(name=name[:50],
                                           defaults={"last_run_at": timezone.now()})
    except DatabaseError as error:
        logger.warning("heartbeat %s not recorded: %s", name, type(error).__name__)


def last_beat(name: str | None = None, *, prefix: str | None = None) -> datetime.datetime | None:
    """The latest heartbeat of ``name``, or of any name starting with ``prefix``."""
    beats = Heartbeat.objects.all()
    beats = beats.filter(name__startswith=prefix) if prefix else beats.filter(name=name)
    return beats.order_by("-last_run_at").values_list("last_run_at", flat=True).first()


class BeatScheduler(PersistentScheduler):
    """Celery beat's usual scheduler, which also records that beat is alive."""

    _last_beat = 0.0

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            self._last_beat = now
            beat_now(BEAT)
        return min(super().tick(*args, **kwargs), HEARTBEAT_SECONDS)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Writes the worker's heartbeat every few seconds from a timer in the worker's main
    process, so /healthz can tell a dead worker from an idle one."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.timer_ref = None

    def start(self, worker):
        name = WORKER_PREFIX + worker.hostname
        beat_now(name)
        self.timer_ref = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, beat_now, (name,),
                                                      priority=10)

    def stop(self, worker):
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None
