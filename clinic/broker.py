"""Asking Redis whether it is there, without hanging: the one probe the alerting (before it
queues a task) and the health check (``/healthz``'s broker field) share."""

import redis


def redis_answers(url: str, *, timeout: float) -> bool:
    """Whether the Redis at ``url`` answers a PING within ``timeout`` seconds (to connect, and
    again to answer)."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=timeout,
                                  socket_timeout=timeout) as client:
            client.ping()
    except (redis.RedisError, OSError):
        return False
    return True
