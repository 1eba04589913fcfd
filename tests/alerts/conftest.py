"""Fixtures for the end-to-end alerting tests: real PostgreSQL, Redis, Celery, SMTP and HTTP.

The end-to-end tests are marked ``postgres`` and use a *transactional* test database
(``django_db(transaction=True, serialized_rollback=True)``), so what the web side commits is
visible to the Celery worker, a separate process connected to the same test database.  The
serialized rollback puts back what ``migrate`` created (the default clinic, questionnaire and
rule set) before each test, since a transactional test empties the database after it.

Each test gets its own ``redis-server`` on a free port (some tests stop it), its own SMTP server
and webhook receiver on loopback, and starts the worker and beat processes it needs through
``celery_processes``; all are stopped when the test ends, whatever happened.  Redis here is a
program we start, not the shared server at ``TEST_REDIS_URL``: without ``redis-server`` on PATH
the service policy applies (skip on a laptop, fail under ``CI=true``).

The web side runs in the pytest process (Django's test client).  ``broker`` makes a Celery app
that publishes to the test's Redis this process's current app, so ``transaction.on_commit``
really queues, and
``alert_settings`` points this process's email at the test's SMTP server, for the tests that
call the alerting service here with the time under their control.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from clinic.models import Clinic, Clinician, DutyContact, DutyShift
from support.real_services import (
    BEAT_STARTED,
    RedisServer,
    ServiceProcess,
    SmsGateway,
    SmtpServer,
    WebhookReceiver,
    redis_server_missing,
    start_beat,
    start_worker,
)
from tests.conftest import require_service
from tests.factories import (
    CLAIM_SECONDS,
    END_OF_DAY,
    SITE_URL,
    SWEEP_SECONDS,
    open_round_the_clock,
)

# The fixtures below that start a real server or process: a test that uses one, directly or
# through another fixture (``celery_processes``, ``broker``, ``alert_settings``...), is marked
# ``e2e`` and left out of the fast selection (``-m "not e2e"``).
REAL_SERVICE_FIXTURES = frozenset({"redis_server", "smtp", "celery_processes", "sms_gateway"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if REAL_SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def service_logs(tmp_path) -> Path:
    """Where the processes a test starts write their output (shown when a wait fails)."""
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture
def redis_server(service_logs):
    """A redis-server of the test's own; ``.stop()`` and ``.start()`` make an outage."""
    require_service(redis_server_missing())
    server = RedisServer(service_logs)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    """An SMTP server on loopback that keeps every message it accepts; ``.hold()`` makes it
    hold messages in DATA until ``.release()``, ``.stop()`` takes it down."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def webhooks():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def sms_gateway():
    """A fake SMS provider on loopback speaking Twilio's Messages API (``SmsGateway``)."""
    gateway = SmsGateway()
    yield gateway
    gateway.stop()


@pytest.fixture
def sms_settings(settings, worker_env, sms_gateway):
    """Texts on, through the test's gateway: in the worker's environment (set before it
    starts) and in this process (which decides, as an intake arrives, who is paged how)."""
    worker_env.update(sms_gateway.settings())
    for name, value in sms_gateway.settings().items():
        setattr(settings, name, value)
    settings.SMS_ENABLED = True
    return settings


def worker_database_url() -> str:
    """The test database (``test_...``, set up by pytest-django) as a DATABASE_URL, for the
    processes the tests start."""
    params = connection.settings_dict
    credentials = quote(params["USER"] or "", safe="")
    if params["PASSWORD"]:
        credentials += ":" + quote(params["PASSWORD"], safe="")
    host = params["HOST"] or "127.0.0.1"
    port = params["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{params['NAME']}"


@pytest.fixture
def worker_env(transactional_db, redis_server, smtp) -> dict[str, str]:
    """The environment of the worker and beat processes: the test database, the test's Redis
    and SMTP server, short claim and sweep periods.  Tests change it before starting them."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_", "REDIS_", "EMAIL_", "ALERT_", "CELERY_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": redis_server.url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "SITE_URL": SITE_URL,
        "ALERT_CLAIM_SECONDS": str(CLAIM_SECONDS),
        "ALERT_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "DJANGO_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    })
    return env


class CeleryProcesses:
    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.started: list[ServiceProcess] = []

    def worker(self, name: str = "worker", *, beat: bool = False) -> ServiceProcess:
        return self.workers(name, beat=beat)[0]

    def workers(self, *names: str, beat: bool = False) -> list[ServiceProcess]:
        """Start workers side by side, and beat too with ``beat`` (its start overlapping
        theirs, rather than one after the other), and return once every one is ready."""
        started = [start_worker(name, env=self.env, log_dir=self.log_dir, wait=False)
                   for name in names]
        self.started.extend(started)
        if beat:
            beat_process = start_beat(env=self.env, log_dir=self.log_dir, wait=False)
            self.started.append(beat_process)
        for process in started:
            process.wait_for_output(" ready.")
        if beat:
            beat_process.wait_for_output(BEAT_STARTED, timeout=30)
        return started

    def beat(self) -> ServiceProcess:
        process = start_beat(env=self.env, log_dir=self.log_dir)
        self.started.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(process.tail() for process in self.started)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()


@pytest.fixture
def celery_processes(transactional_db, worker_env, service_logs):
    """Starts Celery workers (``.worker(name)``) and beat (``.beat()``) against the test
    database; stops them all before the database is emptied."""
    processes = CeleryProcesses(worker_env, service_logs)
    yield processes
    processes.stop_all()


@pytest.fixture
def broker(redis_server):
    """A Celery app of the test's own, configured as the project's (the CELERY_ settings) but
    publishing to the test's Redis instead of running tasks in-process, and made this thread's
    current app: the tasks are shared tasks, which run on the current app, and the check
    before queuing asks it too.  Afterwards the project's app is current again and the broker
    connections the test's app opened are closed.  Only Celery's and kombu's public API: the
    project's app is never reconfigured in place."""
    from celery import Celery

    from config.celery import app as project_app

    app = Celery("clinic-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(broker_url=redis_server.url, task_always_eager=False)
    app.set_current()
    app.set_default()  # for requests served in other threads too
    yield app
    project_app.set_current()
    project_app.set_default()
    # Only the test's app is closed: kombu's pools.reset() would close the project app's pools
    # too (its in-memory broker's, which even eager tasks take a producer from), and every
    # task queued afterwards would fail with "Acquire on closed pool".
    app.close()


@pytest.fixture
def alert_settings(settings, smtp):
    """This process sends email the way the worker does, to the test's SMTP server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp.port
    settings.SITE_URL = SITE_URL
    settings.ALERT_CLAIM_SECONDS = CLAIM_SECONDS
    return settings


@dataclass(frozen=True)
class Rota:
    clinic: Clinic
    duty: Clinician
    backup: Clinician
    second_backup: Clinician
    out_of_hours: Clinician


@pytest.fixture
def rota(transactional_db, clinician, webhooks) -> Rota:
    """The default clinic open round the clock, so the test does not depend on the hour it runs
    at, with Dr Duty (email and webhook; the ``clinician`` user) on a shift every day, two
    backups and an out-of-hours contact."""
    clinic = Clinic.objects.get(is_default=True)
    open_round_the_clock(clinic)
    # The ``clinician`` user is Dr Duty (whose profile the fixture may already have made).
    duty = Clinician.objects.filter(user=clinician).first() or Clinician(user=clinician)
    duty.name, duty.email, duty.webhook_url = "Dr Duty", "duty@clinic.test", webhooks.url("duty")
    duty.save()
    DutyShift.objects.bulk_create(
        DutyShift(clinic=clinic, clinician=duty, weekday=day, starts=datetime.time(0),
                  ends=END_OF_DAY)
        for day in range(7)
    )
    backup = Clinician.objects.create(name="Dr Backup", email="backup@clinic.test")
    second_backup = Clinician.objects.create(name="Dr Second", email="second@clinic.test")
    out_of_hours = Clinician.objects.create(name="Dr Night", email="night@clinic.test")
    DutyContact.objects.create(clinic=clinic, clinician=backup, role=DutyContact.Role.BACKUP,
                               position=1)
    DutyContact.objects.create(clinic=clinic, clinician=second_backup,
                               role=DutyContact.Role.BACKUP, position=2)
    DutyContact.objects.create(clinic=clinic, clinician=out_of_hours,
                               role=DutyContact.Role.OUT_OF_HOURS)
    return Rota(clinic, duty, backup, second_backup, out_of_hours)
