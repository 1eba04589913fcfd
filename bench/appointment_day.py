"""A clinic's day of appointments, with 10,000 appointments that day across 20 clinics: the
queries each list costs (the same for a small clinic and a busy one) and how long it takes.

Run from the project root, with PostgreSQL running::

    .venv/bin/python bench/appointment_day.py [--appointments 10000] [--clinics 20]
        [--requests 50] [--server postgres://postgres@127.0.0.1:5432]
        [--database clinic_bench_appointments] [--keep-database]

It builds a fresh PostgreSQL database (dropped, created and migrated; dropped again at the end
unless ``--keep-database``) and fills it with one day's appointments: one clinic with 200, one
with 10, the rest sharing the remainder; each appointment with its invitation, and half of them
with the intake already done (a submission of each urgency in the realistic mix).  Then, in this
process, through Django's test client with a booking system's API token and a signed-in
practice manager (the whole stack but the network), it measures for each clinic size:

- ``GET /api/appointments/?clinic=<slug>&date=<day>`` (the booking systems' list);
- ``GET /appointments/?clinic=<slug>&date=<day>`` (the page reception works from);

and prints, for each, the number of SQL queries, the median and the 99th-percentile time over
``--requests`` requests, and the machine's load.  Nothing is asserted: the test suite checks
that the query count does not grow with the day (tests/intake/test_appointments.py).
"""

from __future__ import annotations

import argparse
import datetime
import random
import sys
import time
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    DEFAULT_SERVER,
    bench_main,
    describe_machine,
    fresh_database,
    load_average,
    percentile,
    print_table,
    service_environment,
    setup_django,
)

DAY = datetime.date(2026, 12, 7)  # a Monday
MIX = {"routine": 60, "soon": 25, "urgent": 12, "emergency": 3}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=10_000)
    parser.add_argument("--clinics", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--database", default="clinic_bench_appointments")
    parser.add_argument("--keep-database", action="store_true")
    return parser.parse_args()


def clinic_sizes(appointments: int, clinics: int) -> list[int]:
    rest = appointments - 210
    share, left = divmod(rest, clinics - 2)
    return [200, 10] + [share + (1 if n < left else 0) for n in range(clinics - 2)]


def fill(args) -> list[tuple[str, int]]:
    """The day's appointments; returns each clinic's slug and size."""
    from django.contrib.auth.models import Permission, User

    from clinic.models import Clinic
    from intake.models import Appointment, Invitation, Submission
    from intake.references import new_reference
    from intake.selectors import current_version

    random.seed(7)
    version = current_version()
    zone = zoneinfo.ZoneInfo("Europe/London")
    manager = User.objects.create_user("manager", password="bench-manager-password",
                                       is_staff=True)
    manager.user_permissions.set(Permission.objects.filter(
        content_type__app_label="intake", codename__endswith="_appointment"))
    sizes = []
    for number, size in enumerate(clinic_sizes(args.appointments, args.clinics)):
        clinic = Clinic.objects.create(name=f"Clinic {number}", slug=f"clinic-{number}")
        clinic.staff.add(manager)
        starts = [datetime.datetime.combine(DAY, datetime.time(8), tzinfo=zone)
                  + datetime.timedelta(minutes=int(600 * n / size)) for n in range(size)]
        appointments = Appointment.objects.bulk_create(
            Appointment(clinic=clinic, starts_at=at, full_name=f"Patient {number}-{n}",
                        date_of_birth=datetime.date(1970, 1, 1) + datetime.timedelta(days=n),
                        external_id=f"{number}-{n}", email=f"p{n}@example.org")
            for n, at in enumerate(starts))
        Invitation.objects.bulk_create(
            Invitation(appointment=a, secret=f"{a.pk:064x}", token_hash=f"{a.pk:064x}")
            for a in appointments)
        Submission.objects.bulk_create(
            Submission(reference=new_reference(), clinic=clinic, questionnaire_version=version,
                       full_name=a.full_name, date_of_birth=a.date_of_birth, phone="07700 900123",
                       appointment=a, submitted_at=a.starts_at - datetime.timedelta(days=1),
                       urgency=random.choices(list(MIX), weights=list(MIX.values()))[0])
            for a in appointments[::2])
        sizes.append((clinic.slug, size))
    return sizes


def measure(client, path: str, requests: int) -> tuple[int, list[float]]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    # The log keeps the last 9,000 queries: empty it, so the count is not lost off its end.
    reset_queries()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        client.get(path)
        times.append((time.perf_counter() - began) * 1000)
    return len(queries), times


def run(args, workdir: Path, started: list) -> int:
    database_url = fresh_database(args.server, args.database)
    setup_django(service_environment(database_url, workdir, DJANGO_DEBUG="true",
                                     DJANGO_SECURE_PROXY_SSL_HEADER="false"))
    from django.contrib.auth.models import User
    from django.test import Client
    from rest_framework.test import APIClient

    from core.tokens import issue_token

    began = time.monotonic()
    sizes = fill(args)
    print("\n".join(describe_machine()))
    print(f"filled in {time.monotonic() - began:.0f} s: {args.appointments} appointments on "
          f"{DAY} across {args.clinics} clinics, half with their intake done\n")
    manager = User.objects.get(username="manager")
    api = APIClient(HTTP_HOST="127.0.0.1")
    api.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(manager)[0]}")
    page = Client(HTTP_HOST="127.0.0.1")
    page.force_login(manager)
    chosen = sorted({size: slug for slug, size in sizes}.items())
    rows = []
    for size, slug in chosen:
        for what, client, path in (
                ("GET /api/appointments/", api, f"/api/appointments/?clinic={slug}&date={DAY}"),
                ("GET /appointments/", page, f"/appointments/?clinic={slug}&date={DAY}")):
            queries, times = measure(client, path, args.requests)
            rows.append((size, what, queries, f"{percentile(times, 50):.1f}",
                         f"{percentile(times, 99):.1f}"))
    print_table(["appointments that day", "request", "SQL queries", "p50 ms", "p99 ms"], rows)
    print(f"\nload average after the run: {load_average()}")
    return 0


def main() -> int:
    return bench_main("appointment-day-", parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
