"""Heartbeats: each background process says, in the database, that it is alive, so /healthz can
tell a dead worker or a stopped beat from a quiet day; and an optional dead-man's switch outside
the service (``HEARTBEAT_URL``) that pages the operator when the pings stop.

- The **worker** writes ``worker:<hostname>`` every ``HEARTBEAT_SECONDS`` from a timer in its
  main process (``clinic.celery.WorkerHeartbeat``, a bootstep), whether or not there is work.
- **Beat** writes ``beat`` from its scheduler loop (``BeatScheduler``), at most every
  ``HEARTBEAT_SECONDS``.
- The alert sweep (beat -> broker -> worker) writes ``alert-sweep`` when it has run
  (``clinic.alerts.sweep``): the three together working.
- ``ping_heartbeat_url`` is scheduled by beat every minute and runs on a worker, so the outside
  service hears from us only while beat, the broker and a worker all work; it reports a failure
  (``<url>/fail``, as healthchecks.io reads it) when alerts could not be delivered.
"""

import datetime
import logging
import time
import urllib.error
import urllib.request

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from clinic.models import Heartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10
WORKER_PREFIX = "worker:"
BEAT = "beat"
PING_TIMEOUT_SECONDS = 10


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


def ping_heartbeat_url() -> str | None:
    """Ping ``HEARTBEAT_URL`` (if set): the URL itself when alerts can flow, ``<url>/fail`` when
    the health check finds them blocked.  Returns the URL pinged.  Sends nothing but the
    request: no patient data, no details."""
    url = settings.HEARTBEAT_URL
    if not url:
        return None
    from clinic.health import alerts_can_flow, report

    if not alerts_can_flow(report()):
        url = url.rstrip("/") + "/fail"
    # http(s) only: the settings refuse any other scheme for HEARTBEAT_URL.
    request = urllib.request.Request(url, data=b"", method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(  # noqa: S310
                request, timeout=PING_TIMEOUT_SECONDS) as response:
            response.read(256)
    except (urllib.error.URLError, OSError) as error:
        logger.warning("heartbeat URL did not answer: %s", type(error).__name__)
    return url
