"""The Celery application.  Configuration lives in Django settings under the CELERY_ prefix."""

import os

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Writes the worker's heartbeat (``clinic.heartbeats``) every few seconds from a timer in
    the worker's main process, so /healthz can tell a dead worker from an idle one."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.timer_ref = None

    def start(self, worker):
        from clinic.heartbeats import HEARTBEAT_SECONDS, WORKER_PREFIX, beat_now

        name = WORKER_PREFIX + worker.hostname
        beat_now(name)
        self.timer_ref = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, beat_now, (name,),
                                                      priority=10)

    def stop(self, worker):
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None


app.steps["worker"].add(WorkerHeartbeat)
