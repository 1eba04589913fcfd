"""GET /healthz: is this instance able to take intakes, and are alerts flowing?

The status is 503 only when the database is down, since then nothing can be stored; a broker
outage or a late sweep delays alerts but intakes are still safe, so those are reported in the
body (for monitoring) with a 200 (so a load balancer keeps serving the form).
"""

import redis
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from clinic import alerts


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return "unavailable"
    return "ok"


def _broker() -> str:
    if not settings.REDIS_URL:
        return "ok"  # tasks run in-process: there is no broker to be down
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1,
                             socket_timeout=1).ping()
    except (redis.RedisError, OSError):
        return "unavailable"
    return "ok"


def _sweep() -> str:
    if not settings.REDIS_URL:
        return "not scheduled (in-process tasks)"
    try:
        return "ok" if alerts.sweep_is_recent() else "late"
    except DatabaseError:
        return "unknown"


@never_cache
@require_GET
def healthz(request):
    report = {"database": _database(), "broker": _broker()}
    report["alert_sweep"] = _sweep() if report["database"] == "ok" else "unknown"
    status = 200 if report["database"] == "ok" else 503
    return JsonResponse(report, status=status)
