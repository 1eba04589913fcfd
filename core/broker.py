"""Asking Redis whether it is there, without hanging: the one probe the alerting (before it
queues a task) and the health check (``/healthz``'s broker field) share."""

import functools

import redis
from celery import current_app


def redis_answers(url: str, *, timeout: float) -> bool:
    """Whether the Redis at ``url`` answers a PING within ``timeout`` seconds (to connect, and
    again to answer)."""
    try:
        _client(url, timeout).ping()
    except (redis.RedisError, OSError):
        return False
    return True


@functools.cache
def _client(url: str, timeout: float) -> redis.Redis:
    """One client per address and timeout in a process, whose connection stays open from one
    probe to the next (a dead one is dropped and opened again on the next PING): a new client
    for every probe opened a connection and had redis-py read its own package metadata, several
    times what the PING cost, on every alerting submission."""
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def broker_answers() -> bool:
    """Whether the Celery broker is there to take a task: always, when tasks run in-process or
    the broker is not Redis; otherwise whether Redis answers a PING within half a second.
    Publishing to a Redis that accepts connections but does not answer would block until it
    does; Celery's socket_timeout would bound that, but it applies to the worker too, which can
    then stop consuming after a timed-out ack (celery/celery#2415), so the web side asks first."""
    url = current_app.conf.broker_url or ""
    if current_app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return True
    return redis_answers(url, timeout=0.5)
