"""Whether this service can take intakes *and* get alerts to a clinician right now: the report
behind /healthz (``config.health``) and the ping of the operator's dead-man's switch
(``HEARTBEAT_URL``).

Each part is ``ok``, ``late`` (a heartbeat older than it should be: the part may be stuck) or
``down``: the database answers, and the broker, a worker, beat, the alert sweep and the mail
server are all working.  ``docs/operations.md`` says what each field means and what to do.

Without ``REDIS_URL`` tasks run in the web process (a laptop): worker, beat, broker and sweep
are reported ``in-process``; without ``EMAIL_HOST`` mail goes to the console (``console``).
"""

import datetime
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from clinic import heartbeats
from clinic.alerting import alerts
from clinic.alerting.transports import SEND_TIMEOUT_SECONDS
from clinic.models import DeliveryAttempt
from core.broker import redis_answers

logger = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 10

OK, LATE, DOWN = "ok", "late", "down"
IN_PROCESS, CONSOLE = "in-process", "console"
# States in which alerts still reach a clinician.
FLOWING = {OK, IN_PROCESS, CONSOLE}
ALERT_PARTS = ("broker", "worker", "beat", "alert_sweep", "smtp")


def _age(last: datetime.datetime | None, *, ok_within: float, late_within: float,
         now: datetime.datetime) -> str:
    if last is None:
        return DOWN
    seconds = (now - last).total_seconds()
    return OK if seconds <= ok_within else LATE if seconds <= late_within else DOWN


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return DOWN
    return OK


def _broker() -> str:
    if not settings.REDIS_URL:
        return IN_PROCESS
    return OK if redis_answers(settings.REDIS_URL, timeout=1) else DOWN


def _heartbeats(now) -> dict[str, str]:
    if not settings.REDIS_URL:
        return {"worker": IN_PROCESS, "beat": IN_PROCESS, "alert_sweep": IN_PROCESS}
    beat_every = heartbeats.HEARTBEAT_SECONDS
    sweep_every = settings.ALERT_SWEEP_SECONDS
    return {
        "worker": _age(heartbeats.last_beat(prefix=heartbeats.WORKER_PREFIX), now=now,
                       ok_within=3 * beat_every, late_within=12 * beat_every),
        "beat": _age(heartbeats.last_beat(heartbeats.BEAT), now=now,
                     ok_within=3 * beat_every, late_within=12 * beat_every),
        "alert_sweep": _age(heartbeats.last_beat(alerts.SWEEP_HEARTBEAT), now=now,
                            ok_within=6 * sweep_every, late_within=24 * sweep_every),
    }


def _smtp(now) -> str:
    """From the last email the service tried to send: ``down`` if it failed because of the mail
    server (a refused recipient is the address's fault, not the server's), ``late`` if it has
    been in progress for longer than a send can take, ``ok`` if it was sent or none was tried."""
    if "smtp" not in settings.EMAIL_BACKEND:
        return CONSOLE
    last = (DeliveryAttempt.objects.filter(channel="email").order_by("-pk")
            .values("outcome", "error", "started_at").first())
    if last is None or last["outcome"] == DeliveryAttempt.Outcome.SENT:
        return OK
    if not last["outcome"]:
        stuck = (now - last["started_at"]).total_seconds() > 3 * SEND_TIMEOUT_SECONDS
        return LATE if stuck else OK
    if last["error"].startswith("recipient refused"):
        return OK
    return DOWN


def report() -> dict[str, str]:
    """Every part's state.  With the database down nothing else can be read: ``unknown``."""
    now = timezone.now()
    result = {"database": _database(), "broker": _broker()}
    if result["database"] != OK:
        result.update(dict.fromkeys(("worker", "beat", "alert_sweep", "smtp"), "unknown"))
        return result
    try:
        result.update(_heartbeats(now))
        result["smtp"] = _smtp(now)
    except DatabaseError:  # went away between the two checks
        result["database"] = DOWN
    return result


def alerts_can_flow(parts: dict[str, str]) -> bool:
    return parts["database"] == OK and all(parts.get(p) in FLOWING for p in ALERT_PARTS)


def ping_heartbeat_url() -> str | None:
    """Ping ``HEARTBEAT_URL`` (if set): the URL itself when alerts can flow, ``<url>/fail`` when
    the health check finds them blocked.  Returns the URL pinged.  Sends nothing but the
    request: no patient data, no details."""
    url = settings.HEARTBEAT_URL
    if not url:
        return None
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
