"""/livez: this process is alive.  /healthz: can this service take intakes *and* get alerts to a
clinician right now (the report is ``clinic.alerting.health``)?

/healthz reports each part as ``ok``, ``late`` (a heartbeat older than it should be: the part
may be stuck) or ``down``, and is 200 only when all are fine: the database answers, and the
broker, a worker, beat, the alert sweep and the mail server are all working.  Otherwise 503, so
a monitor pages someone.  A load balancer or orchestrator must probe /livez instead: a worker or
SMTP outage does not stop the web process from taking intakes (they wait in the outbox), and a
database outage is answered by the web process itself with a 503 page that tells the patient
what to do.  ``docs/operations.md`` says what each field means and what to do about it.

Without ``REDIS_URL`` tasks run in the web process (a laptop): worker, beat, broker and sweep
are reported ``in-process``; without ``EMAIL_HOST`` mail goes to the console (``console``).
"""

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic.alerting.health import DOWN, OK, alerts_can_flow, report


@never_cache
@require_GET
def livez(request):
    """Liveness: this process answers HTTP.  Asks nothing of the database or Redis, so an
    orchestrator never restarts a healthy process because a service it uses is down (the
    process recovers by itself when the service returns)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def healthz(request):
    parts = report()
    healthy = alerts_can_flow(parts)
    parts["status"] = OK if healthy else DOWN
    return JsonResponse(parts, status=200 if healthy else 503)
