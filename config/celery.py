"""The Celery application.  Configuration lives in Django settings under the CELERY_ prefix."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The current app in every thread, not only the one that imported this module: without it a
# request served in another thread (gunicorn's gthread workers, Django's live test server)
# would queue its tasks on Celery's unconfigured fallback app.
app.set_default()


# The worker's heartbeat bootstep, named rather than imported: it needs Django's models, which
# are ready only once the worker has set Django up (before it builds its blueprint).
app.steps["worker"].add("clinic.heartbeats:WorkerHeartbeat")
