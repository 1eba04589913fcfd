"""The Celery application.  Configuration lives in Django settings under the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# The worker's heartbeat bootstep, named rather than imported: it needs Django's models, which
# are ready only once the worker has set Django up (before it builds its blueprint).
app.steps["worker"].add("clinic.heartbeats:WorkerHeartbeat")
