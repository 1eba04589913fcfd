"""The settings the tests run with: the project's own, with debug on as on a laptop.

``DJANGO_DEBUG`` defaults to false (a deployment that forgets it must not serve debug pages);
the tests, like ``scripts/dev.py``, take the local default unless the environment says
otherwise.  It is set in the environment, not here, so that the processes the tests start
(Celery workers, beat, gunicorn, ``manage.py``) run with the same settings.  pytest-django still
runs the tests themselves with ``DEBUG = False``.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "true")

from config.settings import *  # noqa: F403
