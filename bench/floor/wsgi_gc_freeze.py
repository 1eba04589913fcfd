"""``config.wsgi`` with what start-up loaded frozen out of Python's garbage collector.

A what-if for the benchmarks' ``--gc-freeze`` (docs/performance.md): once Django has loaded
the project, ``gc.freeze()`` moves the objects that exist (modules, classes, URL patterns,
settings: a hundred thousand or more) to a permanent generation that full collections no longer
walk, so the occasional full collection during a request costs milliseconds instead of tens of
them.  The service itself does not do this (``config/wsgi.py``); the benchmarks measure both.
"""

import gc

from config.wsgi import application

gc.freeze()

__all__ = ["application"]
