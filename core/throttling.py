"""Rate limits per client address, that never refuse a request because the cache is down.

The counters live in the shared cache (Redis in production), so every web process sees the same
count.  When that cache does not answer, a limit must not turn a patient away: the request is
counted in this process instead (the same rate, per process) and a warning is logged, and the
shared cache is left alone for ``SHARED_CACHE_RETRY_SECONDS`` so that a Redis that is down or
hung costs one failed call every few seconds rather than one per request.

The same classes serve DRF views (``throttle_classes``) and plain Django views
(``wait_seconds``); the address is ``core.client_address.client_address`` in both.
"""

import logging
import math
import secrets
import threading
import time
import weakref

import redis
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as shared_cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.commands.core import Script
from rest_framework.throttling import SimpleRateThrottle

from core.client_address import client_address

logger = logging.getLogger(__name__)

SHARED_CACHE_RETRY_SECONDS = 5.0
# What a cache that is down or hung raises (Django's Redis backend lets redis-py's errors out).
CACHE_ERRORS = (redis.RedisError, OSError)

# KEYS[1]: the address's window; ARGV: now (seconds), the period (seconds), the limit, and a
# member name of this request's own.  Drops what is older than the period; refuses, returning
# the window's times, when the limit is reached; else adds this request and renews the expiry.
SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local window = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local times = {0}
  for i = 2, #window, 2 do times[#times + 1] = window[i] end
  return times
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) * 1000))
return {1}
"""

_scripts: weakref.WeakKeyDictionary[RedisCache, Script] = weakref.WeakKeyDictionary()
_local_counts = LocMemCache("clinic-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
_state = threading.Lock()
_shared_cache_down_until = 0.0


def _shared_cache_usable() -> bool:
    return time.monotonic() >= _shared_cache_down_until


def _shared_cache_failed(error: Exception) -> None:
    global _shared_cache_down_until
    with _state:
        _shared_cache_down_until = time.monotonic() + SHARED_CACHE_RETRY_SECONDS
    logger.warning("rate limits: the shared cache does not answer (%s); counting in this "
                   "process for %g s", type(error).__name__, SHARED_CACHE_RETRY_SECONDS)


def forget_local_counts() -> None:
    """Empty this process's fallback counters and trust the shared cache again (for tests)."""
    global _shared_cache_down_until
    _local_counts.clear()
    with _state:
        _shared_cache_down_until = 0.0


class AddressRateThrottle(SimpleRateThrottle):
    """A rate per client address for ``scope`` (a key of DEFAULT_THROTTLE_RATES), signed in or
    not.  Fails over to a count in this process when the shared cache is unavailable."""

    cache = shared_cache

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}

    def allow_request(self, request, view) -> bool:
        if _shared_cache_usable():
            try:
                backend = caches[DEFAULT_CACHE_ALIAS]
                if isinstance(backend, RedisCache) and self.rate is not None:
                    return self._allow_in_redis(backend, request, view)
                return super().allow_request(request, view)
            except CACHE_ERRORS as error:
                _shared_cache_failed(error)
        self.cache = _local_counts
        return super().allow_request(request, view)

    def _allow_in_redis(self, backend: RedisCache, request, view) -> bool:
        """DRF's sliding window (the times of the address's requests in the last period), kept
        in Redis as a sorted set and checked and counted by one script: one round trip instead
        of DRF's read and write (a quarter of a submission's time went on those), and atomic,
        where two requests at once could both pass DRF's.  On refusal, ``history`` holds the
        window as DRF's would, so its ``wait()`` says how long to wait."""
        self.key = self.get_cache_key(request, view)
        self.now = self.timer()
        allowed, *window = _sliding_window(backend)(
            keys=[backend.make_and_validate_key(self.key)],
            args=[repr(self.now), str(self.duration), str(self.num_requests),
                  f"{self.now!r}:{secrets.token_hex(4)}"])
        self.history = sorted((float(when) for when in window), reverse=True)
        return bool(allowed)


def _sliding_window(backend: RedisCache) -> Script:
    """``SLIDING_WINDOW`` registered with a client of ``backend``'s connection pool, made once
    per backend: making a redis-py client for each request was half of the throttle's time in
    a profile of submissions.  The script goes by its SHA (EVALSHA), and is loaded again if
    Redis lost it.  Django's RedisCache keeps its redis-py client factory behind ``_cache``
    (no public accessor)."""
    script = _scripts.get(backend)
    if script is None:
        script = _scripts[backend] = backend._cache.get_client(write=True).register_script(
            SLIDING_WINDOW)
    return script


def wait_seconds(request, throttle: AddressRateThrottle) -> int | None:
    """For plain Django views: None when ``request`` is within the limit (and it is counted),
    else the whole seconds to wait before trying again."""
    if throttle.allow_request(request, None):
        return None
    return max(1, math.ceil(throttle.wait() or throttle.duration))


class SubmissionThrottle(AddressRateThrottle):
    """Intakes, whichever way they come (the form, JSON, FHIR): one count per address."""

    scope = "submissions"


class SignInThrottle(AddressRateThrottle):
    """Password attempts: the login pages and the API token endpoint share one count."""

    scope = "sign_in"


class PasswordResetThrottle(AddressRateThrottle):
    """Password-reset requests, each of which sends an email."""

    scope = "password_reset"


class SignInThrottleMiddleware:
    """Per-address limits on the pages that take a password or send a password-reset email
    (the clinicians' and the admin's login, and the reset form), which are Django's own views.
    Only POSTs count: showing the form costs nothing.  The token endpoint has the same limit as
    a DRF throttle."""

    LIMITS = {"login": SignInThrottle, "admin:login": SignInThrottle,
              "password_reset": PasswordResetThrottle}

    def __init__(self, get_response):
        self.get_response = get_response
        self._paths: dict[str, type[AddressRateThrottle]] | None = None

    def __call__(self, request):
        if request.method == "POST":
            throttle = self._limits().get(request.path_info)
            if throttle is not None:
                wait = wait_seconds(request, throttle())
                if wait is not None:
                    return too_many_requests(wait, "Too many attempts from your address. "
                                                   f"Try again in {_minutes(wait)}.")
        return self.get_response(request)

    def _limits(self) -> dict[str, type[AddressRateThrottle]]:
        if self._paths is None:
            from django.urls import reverse

            self._paths = {reverse(name): throttle for name, throttle in self.LIMITS.items()}
        return self._paths


def too_many_requests(wait: int, message: str):
    from django.http import HttpResponse

    response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(wait)
    return response


def _minutes(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    return "a minute" if minutes <= 1 else f"{minutes} minutes"
