"""A Celery worker process keeps its database connections from one task to the next
(``config.celery.PooledWorkerFixup``): Celery's own fix-up closed the process's pool after every
task, so each page delivered opened new PostgreSQL connections (celery/celery#10554).

Real parts: PostgreSQL, a redis-server of the test's own, a Celery worker process, aiosmtpd;
the submissions go through POST /api/submissions/.
"""

import threading

import psycopg
import pytest
from django.db import connection

from clinic.models import Notification
from support.real_services import wait_until
from tests.alerts.conftest import worker_database_url
from tests.factories import COMMITTED, notification_for, submit_emergency, wait_for_status

pytestmark = [pytest.mark.postgres, COMMITTED]

WORKER = "worker-pool-test"  # the worker's connections carry it as their application name


def worker_backends(cursor=None) -> set[int]:
    """The PostgreSQL processes serving the worker's connections now."""
    if cursor is None:
        with connection.cursor() as cursor:
            return worker_backends(cursor)
    cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [WORKER])
    return {pid for (pid,) in cursor.fetchall()}


class Watch:
    """Every worker backend seen while it runs, polled every 10 ms on a connection of its own
    (a connection opened for a task and closed after it lives as long as the task)."""

    def __enter__(self):
        self.seen: set[int] = set()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._poll)
        self.thread.start()
        return self

    def _poll(self) -> None:
        with psycopg.connect(worker_database_url(), autocommit=True) as own:
            cursor = own.cursor()
            while not self.done.wait(0.01):
                self.seen |= worker_backends(cursor)

    def __exit__(self, *exc_info):
        self.done.set()
        self.thread.join()


def settled_backends() -> set[int]:
    """``worker_backends`` once the worker's pool has stopped opening connections (it opens its
    minimum in the background)."""
    seen = [worker_backends()]

    def steady() -> bool:
        seen.append(worker_backends())
        return len(seen) >= 4 and seen[-1] == seen[-2] == seen[-3]

    wait_until(steady, what="the worker's pool to settle", interval=0.3)
    return seen[-1]


def deliver_one(client, rota, detail) -> None:
    reference = submit_emergency(client)
    wait_for_status(notification_for(reference, rota.duty), Notification.Status.DELIVERED,
                    detail=detail)


def test_a_worker_keeps_its_database_connections_from_one_page_to_the_next(
        client, broker, rota, smtp, worker_env, celery_processes):
    worker_env["PGAPPNAME"] = WORKER
    celery_processes.worker()
    deliver_one(client, rota, celery_processes.logs)
    after_the_first = settled_backends()
    # The worker process's pool is still open after its task: its connections wait in it.
    assert after_the_first, "no connection of the worker's is open after its first task"
    with Watch() as watch:
        for _ in range(3):
            deliver_one(client, rota, celery_processes.logs)
    # Three more pages delivered on the same connections: none opened for them.
    assert watch.seen <= after_the_first, watch.seen - after_the_first
    assert settled_backends() == after_the_first
