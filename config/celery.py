"""The Celery application.  Configuration lives in Django settings under the CELERY_ prefix."""

import contextlib
import os

from celery import Celery
from celery.fixups.django import DjangoFixup, DjangoWorkerFixup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class PooledWorkerFixup(DjangoWorkerFixup):
    """Celery's Django fix-up for the worker, but a worker process keeps its database pool
    from one task to the next: Celery 5.6 closes the pool after every task in a prefork
    worker (celery/celery#10554, fixed by #10555, not yet released), so each task opened a
    new pool and with it new connections (four, the pool's minimum), each a PostgreSQL
    process to start, its prepared statements gone with it.  As in that fix: after each task
    the connections go back to the pool, as Django's requests do; a pool inherited from the
    parent when the process was forked is closed, once, as Celery does."""

    def _close_database(self) -> None:
        for connection in self._db.connections.all(initialized_only=True):
            try:
                connection.close()  # back to the pool
            except self.interface_errors:
                pass
            except self.DatabaseError as error:
                if "closed" not in str(error) and "not connected" not in str(error):
                    raise

    def on_worker_process_init(self, **kwargs) -> None:
        super().on_worker_process_init(**kwargs)
        for connection in self._db.connections.all(initialized_only=True):
            if hasattr(connection, "close_pool"):
                with contextlib.suppress(KeyError):  # no pool was made in the parent
                    connection.close_pool()


class PooledDjangoFixup(DjangoFixup):
    """Celery's Django fix-up, with ``PooledWorkerFixup`` for the worker's part (made when a
    worker starts, as Celery makes its own)."""

    @property
    def worker_fixup(self) -> DjangoWorkerFixup:
        if self._worker_fixup is None:
            self._worker_fixup = PooledWorkerFixup(self.app)
        return self._worker_fixup


def django_fixup(app: Celery) -> DjangoFixup | None:
    """``celery.fixups.django.fixup``, installing ``PooledDjangoFixup`` instead."""
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return None
    return PooledDjangoFixup(app).install()


app = Celery("clinic", fixups=["config.celery:django_fixup"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The current app in every thread, not only the one that imported this module: without it a
# request served in another thread (gunicorn's gthread workers, Django's live test server)
# would queue its tasks on Celery's unconfigured fallback app.
app.set_default()


# The worker's heartbeat bootstep, named rather than imported: it needs Django's models, which
# are ready only once the worker has set Django up (before it builds its blueprint).
app.steps["worker"].add("clinic.heartbeats:WorkerHeartbeat")
