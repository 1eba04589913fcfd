"""What the tests (``tests/``) and the benchmarks (``bench/``) share, so that neither imports the
other: ``real_services`` starts real servers and processes on loopback (Redis, PostgreSQL, SMTP,
a webhook receiver, Celery, gunicorn), and ``clinical_data`` holds the clinical vignettes and
makes patients of a given age.  Not part of the service: nothing in ``clinic``, ``intake`` or
``screening`` imports it.
"""
