"""Shared fixtures, and the policy for tests that need a real service.

The service policy
------------------
Mark a test ``@pytest.mark.postgres`` when it needs the database to be PostgreSQL
(``DATABASE_URL=postgres://...``), and ``@pytest.mark.redis`` (or use the ``redis_url`` fixture)
when it needs a Redis server.  When the service is missing, the test is *skipped* with the reason
on a laptop, and *fails* with the reason when ``CI=true``, so CI can never go green by skipping
what it was meant to test.  ``.ci/run`` provides both services.

Redis for tests is found at ``TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/12``), never at
``REDIS_URL``: that one switches Celery from in-process tasks to the broker, which a test that
needs it arranges for itself.

Running in parallel (pytest-xdist)
----------------------------------
``scripts/dev.py test -m "not e2e"`` runs pytest with ``-n`` (see its docstring).  Each xdist
worker has a test database of its own (pytest-django names it ``test_<name>_gw0``, ``_gw1``...;
the processes the alerting tests start are given that name) and a Redis database of its own:
worker ``gwN`` uses the number in ``TEST_REDIS_URL`` plus N (12, 13, 14, 15 by default).

Named users
-----------
``clinician`` (in the Clinicians group, not staff), ``staff_admin`` (staff with every permission
of the clinic's apps, but not a superuser), pytest-django's ``admin_user`` (a superuser) and
the anonymous visitor (``client``).  ``clinician_client``, ``staff_admin_client`` and
pytest-django's ``admin_client`` are logged in as them.
"""

from __future__ import annotations

import functools
import os
from urllib.parse import urlsplit

import hypothesis
import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.test import Client
from rest_framework.test import APIClient

from core.roles import CLINICIANS_GROUP
from tests import database_snapshot

pytest_plugins = ["pytester"]

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/12"
PROJECT_APPS = ("clinic", "intake", "screening")


# --- The service policy ---------------------------------------------------------------------


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


# Which pytest-xdist worker this process is (gwN: N), 0 without xdist.  Read from the worker's
# own config, not from PYTEST_XDIST_WORKER, which the fresh Pythons that tests start inherit.
_xdist_worker = 0


def redis_test_url() -> str:
    """``TEST_REDIS_URL``, with this xdist worker's database number: the URL's plus N for
    worker gwN, so that two workers never empty each other's database."""
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    if not _xdist_worker:
        return url
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + _xdist_worker
    return parts._replace(path=f"/{number}").geturl()


def postgres_missing() -> str | None:
    """Why PostgreSQL is not available to the tests, or None when it is."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine == "core.postgresql":  # Django's, with the pool's check of its own
        return None
    return (
        f"needs PostgreSQL, but the database is {engine.rsplit('.', 1)[-1]}: set "
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic (or run .ci/run)"
    )


@functools.cache
def redis_missing(url: str) -> str | None:
    """Why Redis at ``url`` is not available, or None when it answers PING.  Asked once per URL
    per test session."""
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except (redis.RedisError, OSError, ValueError) as error:
        return (
            f"needs Redis, but {url} does not answer PING ({error}): start redis-server, or set "
            "TEST_REDIS_URL"
        )
    return None


SERVICE_CHECKS = {
    "postgres": postgres_missing,
    "redis": lambda: redis_missing(redis_test_url()),
}


def require_service(missing: str | None) -> None:
    """Apply the policy to one reason a service is missing (None: it is there)."""
    if missing is None:
        return
    if in_ci():
        pytest.fail(f"{missing} (CI=true: a missing service is a failure, not a skip)",
                    pytrace=False)
    pytest.skip(missing)


_missing_services = pytest.StashKey[str]()


def pytest_configure(config):
    global _xdist_worker
    worker = getattr(config, "workerinput", {}).get("workerid", "")
    _xdist_worker = int(worker.removeprefix("gw")) if worker.startswith("gw") else 0
    # Hashing passwords at production strength costs most of a second per user; tests create
    # many users and test nothing about the hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config, items):
    """Check each service that a collected test is marked as needing, once, and skip (laptop)
    or mark for failure (CI) the tests whose service is missing."""
    missing_by_service: dict[str, str | None] = {}
    for item in items:
        reasons = []
        for service, check in SERVICE_CHECKS.items():
            if item.get_closest_marker(service) is None:
                continue
            if service not in missing_by_service:
                missing_by_service[service] = check()
            if missing_by_service[service] is not None:
                reasons.append(missing_by_service[service])
        if not reasons:
            continue
        if in_ci():
            item.stash[_missing_services] = "; ".join(reasons)
        else:
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


def pytest_runtest_setup(item):
    require_service(item.stash.get(_missing_services, None))


@pytest.fixture
def redis_url() -> str:
    """The URL of a reachable Redis database for this test, emptied first (the policy applies
    when there is none).  Use a database of its own: the default is number 12 (plus N on xdist
    worker gwN)."""
    url = redis_test_url()
    require_service(redis_missing(url))
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    connection.close()
    return url


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache, so throttling counts and cached values never leak
    from one test to the next."""
    from django.core.cache import cache

    from core.throttling import forget_local_counts

    cache.clear()
    forget_local_counts()
    yield
    cache.clear()
    forget_local_counts()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, with the committed tests' flush and restore done in SQL
    on PostgreSQL (``tests/database_snapshot.py``)."""
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if (connection.vendor == "postgresql"
                    and hasattr(connection, "_test_serialized_contents")):
                database_snapshot.install(connection)


# --- Hypothesis -----------------------------------------------------------------------------

# How many examples each property test tries (tests/screening/test_screening_properties.py):
# "ci" under CI=true, as many as the suite has always run; "dev" elsewhere, fewer, so the fast
# selection stays fast.  HYPOTHESIS_PROFILE=ci runs CI's number on a laptop.
hypothesis.settings.register_profile("ci", max_examples=200)
hypothesis.settings.register_profile("dev", max_examples=50)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or
                                 ("ci" if in_ci() else "dev"))


# --- Named users and their clients ----------------------------------------------------------


@pytest.fixture
def clinician(django_user_model):
    """A clinician: in the Clinicians group, not staff, so not allowed into the admin; works at
    the default clinic, so sees its cases."""
    from clinic.models import Clinic, Clinician

    user = django_user_model.objects.create_user(
        username="clinician", email="clinician@example.org", password="clinician-password"
    )
    user.groups.add(Group.objects.get(name=CLINICIANS_GROUP))
    profile = Clinician.objects.create(name="Casey Clinician", user=user, email=user.email)
    profile.clinics.add(Clinic.objects.get(is_default=True))
    return user


@pytest.fixture
def staff_admin(django_user_model):
    """An admin who is not a programmer: staff, with every permission on the clinic's own apps
    (questionnaires, rules, clinics), but not a superuser."""
    user = django_user_model.objects.create_user(
        username="staff-admin", email="staff-admin@example.org", password="staff-admin-password",
        is_staff=True,
    )
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=PROJECT_APPS))
    return user


@pytest.fixture
def practice_manager(django_user_model):
    """A practice manager: staff, in the "Practice managers" group (migration clinic 0015) and
    nothing else, not a superuser."""
    from core.roles import PRACTICE_MANAGERS_GROUP

    user = django_user_model.objects.create_user(
        username="practice-manager", email="manager@example.org",
        password="practice-manager-password", is_staff=True,
    )
    user.groups.add(Group.objects.get(name=PRACTICE_MANAGERS_GROUP))
    return user


def signed_in(user) -> Client:
    """Django's test client, signed in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def practice_manager_client(practice_manager) -> Client:
    return signed_in(practice_manager)


@pytest.fixture
def clinician_client(clinician) -> Client:
    return signed_in(clinician)


@pytest.fixture
def staff_admin_client(staff_admin) -> Client:
    return signed_in(staff_admin)


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous REST client (JSON by default); ``api_client.force_authenticate(user)`` for
    a signed-in one."""
    client = APIClient()
    client.default_format = "json"
    return client


@pytest.fixture
def current():
    """Version 2 of the upper back pain intake, published (and current) by the data
    migrations."""
    from intake.models import QuestionnaireVersion

    return QuestionnaireVersion.objects.get(questionnaire__slug="upper-back-pain", number=2)


@pytest.fixture
def draft(current):
    """Version 3: a draft copied from version 2, so it is valid as it stands."""
    from intake.services.questionnaires import create_draft_from

    return create_draft_from(current)
