"""Settings for the benchmarks: the clinic's own settings, plus the floor app and its URL.

Everything else is exactly ``config.settings``, read from the same environment, so the real
endpoints behave as in production.  Two values differ, both for the benchmark's sake only:

- ``ROOT_URLCONF`` adds ``/bench/floor/`` in front of the clinic's URLs;
- ``STATIC_ROOT`` is ``BENCH_STATIC_ROOT`` when set, so ``collectstatic`` for a benchmark run
  goes to a temporary folder and not to the project's ``staticfiles/``.
"""

import os

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS, STATIC_ROOT

INSTALLED_APPS = [*INSTALLED_APPS, "bench.floor"]
ROOT_URLCONF = "bench.floor.urls"
STATIC_ROOT = os.environ.get("BENCH_STATIC_ROOT") or STATIC_ROOT
