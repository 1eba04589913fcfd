import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Everything loaded so far (Django, the apps, their modules) lives as long as the process: take
# it out of the garbage collector's full sweeps, which otherwise show up as latency spikes
# (docs/performance.md).
gc.freeze()
