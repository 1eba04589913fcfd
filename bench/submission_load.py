"""Throughput and latency of POST /api/submissions/, beside a floor measured in the same run.

Run from the project root, with PostgreSQL running::

    .venv/bin/python bench/submission_load.py [--levels 1,8,32] [--requests 300,1000,1600]
        [--workers 5] [--worker-class sync|gthread --threads 4] [--profile]
        [--server postgres://postgres@127.0.0.1:5432] [--database clinic_bench_load]
        [--keep-database]

It runs the service as production does, on this machine, with nothing shared:

- a fresh PostgreSQL database (``--database``; dropped, created and migrated, dropped again at
  the end unless ``--keep-database``);
- a ``redis-server`` of its own on a free port (the Celery broker, the cache, the throttle);
- an SMTP server (aiosmtpd, in this process) that accepts the alert emails;
- a Celery worker (prefork, one process) that really sends the alerts of urgent and emergency
  intakes to the duty clinician (the default clinic is open round the clock, one clinician on
  duty);
- gunicorn serving ``config.wsgi`` with ``DJANGO_DEBUG=false``, a secret key,
  ``SUBMISSION_THROTTLE_RATE=1000000/hour`` and settings ``bench.floor.settings`` (the
  clinic's settings plus the floor's URL): by default 5 sync workers, gunicorn's
  2 x CPUs + 1 for these 2 CPUs.  Sync workers close the connection after each response.

Requests come as through a TLS-terminating proxy: ``X-Forwarded-Proto: https`` and an
``X-Forwarded-For`` address of their own (``DJANGO_NUM_PROXIES=1``), as if every intake came from
a different patient; the throttle then keeps a one-entry history per address, as in production,
instead of one ever-growing history for 127.0.0.1.

The same request bodies go to the floor, ``POST /bench/floor/`` (``bench/floor/``: a bare Django
view that parses the JSON body and stores it in one row, through the same middleware in the same
gunicorn), and to the real endpoint.  The bodies are the clinical vignettes of the current
questionnaire version (``tests/data/vignettes-v2.json``, by way of
``support/clinical_data.py``), each with a patient block whose date of birth gives the case's
age today, drawn in a realistic mix (``--mix``, by default 60% routine, 25% soon, 12% urgent, 3%
emergency).

The load generator is, by default, in this script (``--client threads``,
``bench/_common.run_load``): N client threads, each a closed loop on its own HTTP/1.1 connection
(kept alive when the server allows), a fixed number of requests per level, stopping early at
``--time-limit`` seconds.  On a 2-CPU machine that client competes with the server for the
CPUs and for this interpreter; the CPU it used is printed beside the figures.  With
``--client wrk`` the load comes from ``wrk`` (Debian package ``wrk``, written in C): N
connections on two threads for ``--time-limit`` seconds per level, the same bodies and headers.

It prints the machine, the queries one submission makes (counted with Django's
``CaptureQueriesContext``), a table (level, endpoint, requests, requests per second, p50, p95 and
p99 latency in ms, and the real endpoint's p99 and throughput as ratios of the floor's), where
the CPU went, and whether the goals of issue 19 (throughput at least 0.35 x the floor's, p99 at
most 3 x, at most 5 queries for a routine submission) were met.  With ``--profile`` it also
samples the gunicorn workers with py-spy during an extra run of the real endpoint and prints
where their time goes.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import random
import re
import shutil
import subprocess
import sys
import time
import zoneinfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    ROOT,
    CpuMeter,
    Gunicorn,
    RedisServer,
    Request,
    ServiceProcess,
    SmtpServer,
    add_service_arguments,
    bench_main,
    describe_machine,
    fresh_database,
    open_round_the_clock_with_one_clinician_on_duty,
    print_table,
    run_load,
    run_wrk,
    service_environment,
    setup_django,
    start_worker,
    summarise,
    wait_until,
)
from support.clinical_data import VIGNETTES, patient_aged

LONDON = zoneinfo.ZoneInfo("Europe/London")  # the default clinic's time zone
DEFAULT_MIX = "routine=60,soon=25,urgent=12,emergency=3"
GOAL_P99_RATIO = 3.0
GOAL_RPS_RATIO = 0.35
GOAL_ROUTINE_QUERIES = 5


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,8,32", help="concurrent clients (default 1,8,32)")
    parser.add_argument("--requests", default="300,1000,1600",
                        help="requests per endpoint at each level (default 300,1000,1600)")
    parser.add_argument("--time-limit", type=float, default=30.0,
                        help="seconds at most per endpoint and level (default 30); with wrk, "
                             "the seconds of each run")
    parser.add_argument("--client", choices=["threads", "wrk"], default="threads",
                        help="the load generator: threads in this process (default), or wrk")
    parser.add_argument("--workers", type=int, default=5,
                        help="gunicorn workers (default 5: 2 x CPUs + 1 on 2 CPUs)")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--celery-concurrency", type=int, default=1)
    parser.add_argument("--mix", default=DEFAULT_MIX,
                        help=f"urgency=weight,... of the bodies (default {DEFAULT_MIX})")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true",
                        help="sample the gunicorn workers with py-spy during an extra run")
    parser.add_argument("--show-queries", action="store_true",
                        help="print the SQL of one urgent submission")
    add_service_arguments(parser, database="clinic_bench_load")
    args = parser.parse_args()
    args.levels = [int(n) for n in args.levels.split(",")]
    args.requests = [int(n) for n in args.requests.split(",")]
    if len(args.requests) != len(args.levels):
        parser.error("give one --requests count per level")
    args.mix = {name: float(weight) for name, weight in
                (part.split("=") for part in args.mix.split(","))}
    return args


# --- What is sent -----------------------------------------------------------------------------


def vignettes_by_urgency() -> dict[str, list[dict]]:
    """The vignettes' request bodies by their urgency: the answers, and a patient who is the
    case's age today (the rules use the age)."""
    today = datetime.datetime.now(LONDON).date()
    by_urgency: dict[str, list[dict]] = collections.defaultdict(list)
    for vignette in VIGNETTES:
        by_urgency[vignette["expected_urgency"]].append(
            {"patient": patient_aged(vignette["age"], today), "answers": vignette["answers"]})
    return by_urgency


def intake_bodies(count: int, mix: dict[str, float], seed: int) -> list[tuple[str, bytes]]:
    """``count`` request bodies as (expected urgency, JSON), drawn in the ``mix``."""
    rng = random.Random(seed)
    by_urgency = vignettes_by_urgency()
    tiers = list(mix)
    drawn = rng.choices(tiers, weights=[mix[t] for t in tiers], k=count)
    return [(tier, json.dumps(rng.choice(by_urgency[tier])).encode()) for tier in drawn]


def requests_for(path: str, bodies: list[tuple[str, bytes]], first_address: int):
    """One request per body, each from an address of its own (10.0.0.0/8)."""
    requests = []
    for n, (_tier, body) in enumerate(bodies, start=first_address):
        address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        requests.append(Request("POST", path, body, {
            "Content-Type": "application/json", "X-Forwarded-For": address}))
    return requests


# --- The clinic -------------------------------------------------------------------------------


def alerts_outstanding() -> int:
    """Notifications due and not yet delivered.  Those held for a burst's digest (``grouped``)
    are due only when the burst's window ends, minutes later, so they are not waited for."""
    from clinic.models import Notification

    return Notification.objects.filter(status__in=["pending", "sending"],
                                       grouped=False).count()


def count_queries(bodies: list[tuple[str, bytes]]) -> tuple[list[tuple[str, int, str]], list]:
    """The queries one submission of each urgency makes, and one floor request, through the
    whole Django stack in this process (Django's test client, no server, each request with a
    connection checked out from the pool as under gunicorn); and the SQL of the urgent
    one's."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")
    first = {}
    for tier, body in bodies:
        first.setdefault(tier, body)
    # One submission first, not counted: the first in a process compiles the rule set (and,
    # with its connection checked out as under gunicorn, keeps what it read of the clinic).
    connection.close()
    warm_up = client.post("/api/submissions/", first["routine"], content_type="application/json",
                          HTTP_X_FORWARDED_FOR="192.0.2.100")
    if warm_up.status_code != 201:
        raise SystemExit(f"a submission answered {warm_up.status_code}: {warm_up.content[:300]}")
    counted, urgent_sql = [], []
    for n, (label, path, body) in enumerate(
            [("floor", "/bench/floor/", first["routine"])]
            + [(tier, "/api/submissions/", first[tier])
               for tier in ("routine", "soon", "urgent", "emergency") if tier in first]):
        with CaptureQueriesContext(connection) as queries:
            # Each request checks out its own connection from the pool, as under gunicorn
            # (the test client keeps one between requests): the pool's check, which reads the
            # configuration generation (core.configuration), is not counted.
            connection.close()
            response = client.post(path, body, content_type="application/json",
                                   HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}")
        if response.status_code != 201:
            raise SystemExit(f"{path} answered {response.status_code}: {response.content[:300]}")
        if label != "floor" and response.json()["urgency"] != label:
            raise SystemExit(f"a {label} vignette was screened {response.json()['urgency']}")
        kinds = collections.Counter(q["sql"].split(None, 1)[0].upper() for q in queries)
        counted.append((label, len(queries), ", ".join(f"{n} {k}" for k, n in kinds.items())))
        if label == "urgent":
            urgent_sql = [q["sql"] for q in queries]
    return counted, urgent_sql


# --- Profiling --------------------------------------------------------------------------------


SUBMISSION_FRAME = re.compile(r"^(submit_intake|_store) \(intake/services/submissions\.py:(\d+)\)$")
# Steps of a request outside submit_intake, by a frame that marks them (the first that matches).
REQUEST_STEPS = [
    ("throttle check (Redis)", "check_throttles (rest_framework/views.py"),
    ("JSON body parsing", "_json_body (intake/api/views.py"),
    ("response rendering", "finalize_response (rest_framework/views.py"),
    ("floor view", "store_body (bench/floor/views.py"),
    ("Django request handling and middleware", "(django/core/handlers/"),
]
WAITING_FOR_POSTGRES = "Connection.wait (psycopg/"


def profile_workers(server: Gunicorn, workdir: Path, requests, clients: int, seconds: float):
    """Sample every gunicorn worker with py-spy (idle time included, so waiting for PostgreSQL
    shows) while ``requests`` are sent; return the samples as {stack: count}, a stack being its
    frames joined by ';', outermost first."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    samplers = []
    for pid in server.worker_pids():
        output = workdir / f"py-spy-{pid}.txt"
        samplers.append((output, ServiceProcess(
            f"py-spy:{pid}",
            [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate",
             "250", "--idle", "--format", "raw", "--output", str(output), "--nonblocking"],
            log_path=workdir / f"py-spy-{pid}.log")))
    time.sleep(1.0)  # let py-spy attach
    run_load(server.port, requests, clients=clients, time_limit=seconds - 2, expect=201)
    stacks: collections.Counter = collections.Counter()
    for output, sampler in samplers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            sampler.popen.wait(timeout=seconds + 30)
        sampler.stop()
        if output.exists():
            for line in output.read_text().splitlines():
                stack, _, count = line.rpartition(" ")
                if stack and count.isdigit():
                    stacks[stack] += int(count)
    return stacks


def request_step(frames: list[str]) -> str:
    """What a worker was doing in this sample: the line of ``submit_intake`` or ``_store`` it
    was in (the innermost of them), or a step of the request around it."""
    innermost = None
    for frame in frames:
        match = SUBMISSION_FRAME.match(frame)
        if match:
            innermost = match
    if innermost is not None:
        function, line = innermost.group(1), int(innermost.group(2))
        source = (ROOT / "intake/services/submissions.py").read_text().splitlines()
        return f"{function}:{line} {source[line - 1].strip()[:60]}"
    for name, marker in REQUEST_STEPS:
        if any(marker in frame for frame in frames):
            return name
    return "gunicorn: reading the request, writing the response"


def print_profile(stacks: collections.Counter) -> None:
    in_request = {stack: n for stack, n in stacks.items()
                  if re.search(r"Worker\.handle \(gunicorn/", stack)}
    total = sum(in_request.values())
    if not total:
        print("py-spy collected no samples inside a request (is ptrace allowed here?)")
        return
    steps: collections.Counter = collections.Counter()
    waiting: collections.Counter = collections.Counter()
    for stack, count in in_request.items():
        frames = stack.split(";")
        step = request_step(frames)
        steps[step] += count
        if WAITING_FOR_POSTGRES in frames[-1]:
            waiting[step] += count
    print(f"py-spy, gunicorn workers handling POST /api/submissions/ ({total} samples at 250 Hz "
          "of time inside a request; waiting included):")
    print_table(["where", "share of request time", "of which waiting for PostgreSQL"],
                [(step, f"{100 * n / total:.1f}%", f"{100 * waiting[step] / total:.1f}%")
                 for step, n in steps.most_common() if 100 * n / total >= 0.5])
    print(f"all steps: waiting for PostgreSQL {100 * sum(waiting.values()) / total:.1f}% of "
          "request time")


# --- The run ----------------------------------------------------------------------------------


def run(args, workdir: Path, started: list) -> int:
    redis_server = RedisServer(workdir)
    smtp = SmtpServer()
    database_url = fresh_database(args.server, args.database)
    redis_server.start()
    started.append(redis_server)
    smtp.start()
    started.append(smtp)
    env = service_environment(
        database_url, workdir, REDIS_URL=redis_server.url, EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port), SUBMISSION_THROTTLE_RATE="1000000/hour",
        SITE_URL="https://clinic.test")
    setup_django(env)
    open_round_the_clock_with_one_clinician_on_duty()
    machine = describe_machine()

    worker = start_worker(env=env, workdir=workdir, concurrency=args.celery_concurrency)
    started.append(worker)
    server = Gunicorn(env=env, workdir=workdir, workers=args.workers,
                      worker_class=args.worker_class, threads=args.threads,
                      gc_freeze=args.gc_freeze)
    started.append(server)

    total = sum(args.requests)
    bodies = intake_bodies(total + 2000, args.mix, args.seed)
    queries, urgent_sql = count_queries(bodies)

    # Warm-up, not counted: every worker loads its code, its pool connections and the
    # compiled rule set.
    warm = bodies[-2000:]
    for path in ("/bench/floor/", "/api/submissions/"):
        run_load(server.port, requests_for(path, warm[: 20 * args.workers], 1_000_000),
                 clients=args.workers, time_limit=30, expect=201)
    wait_until(lambda: alerts_outstanding() == 0, what="the warm-up's alerts", timeout=60)

    meter = CpuMeter(groups={"gunicorn": server.process.pid,
                             "celery worker": worker.pid,
                             "redis": redis_server.process.pid})
    rows, cpu_rows, goals = [], [], []
    offset = 0
    for clients, count in zip(args.levels, args.requests, strict=True):
        level_bodies = bodies[offset: offset + count]
        offset += count
        figures = {}
        for endpoint, path in (("floor", "/bench/floor/"), ("submission", "/api/submissions/")):
            meter.start()
            if args.client == "wrk":
                summary = run_wrk(server.port, path, [body for _tier, body in level_bodies],
                                  connections=clients, seconds=args.time_limit, workdir=workdir)
            else:
                result = run_load(server.port, requests_for(path, level_bodies, 0),
                                  clients=clients, time_limit=args.time_limit, expect=201)
                summary = summarise(result)
                if result.errors:
                    print(f"  {endpoint} at {clients}: errors {result.errors}", file=sys.stderr)
            cpu = meter.stop()
            figures[endpoint] = summary
            cpu_rows.append((clients, endpoint, *(f"{cpu.get(name, 0):.0f}%" for name in
                                                  CpuMeter.COLUMNS)))
            if endpoint == "submission":
                # Let the worker finish this level's alerts before the next floor run.
                wait_until(lambda: alerts_outstanding() == 0, what="alerts to be sent",
                           timeout=90, interval=0.2)
        floor, real = figures["floor"], figures["submission"]
        p99_ratio, rps_ratio = real.p99 / floor.p99, real.rps / floor.rps
        for endpoint, s in figures.items():
            rows.append((clients, endpoint, s.requests, s.errors, s.rps, s.p50, s.p95, s.p99,
                         f"{p99_ratio:.2f}x" if endpoint == "submission" else "-",
                         f"{rps_ratio:.2f}x" if endpoint == "submission" else "-"))
        goals.append((clients, p99_ratio, rps_ratio))

    from clinic.models import Alert, Notification
    from intake.models import Submission

    urgencies = collections.Counter(Submission.objects.values_list("urgency", flat=True))

    print("\n".join(machine))
    print(f"server:   {server.description}; Celery worker prefork -c "
          f"{args.celery_concurrency}; Redis and the SMTP sink on loopback; "
          "DJANGO_DEBUG=false, JSON logs at INFO")
    if args.client == "wrk":
        print(f"client:   wrk, {max(args.levels)} connections at most on 2 threads, "
              f"{args.time_limit:g} s per run, on the same 2 CPUs")
    else:
        print(f"client:   {max(args.levels)} threads at most, in this process (stdlib "
              "http.client), on the same 2 CPUs")
    print()
    print("queries per request (one request each, Django test client, same settings):")
    print_table(["request", "queries", "of which"], queries)
    if args.show_queries:
        print("\nthe urgent submission's queries:")
        for n, sql in enumerate(urgent_sql, start=1):
            print(f"{n:>3}. {sql if len(sql) <= 150 else sql[:147] + '...'}")
    print()
    print(f"POST bodies: vignettes in the mix {args.mix}; stored: "
          + ", ".join(f"{u} {n}" for u, n in urgencies.most_common())
          + f"; alerts {Alert.objects.count()}, notifications delivered "
          f"{Notification.objects.filter(status='delivered').count()}, emails at the SMTP "
          f"sink {len(smtp.messages)}")
    print()
    print_table(["clients", "endpoint", "requests", "errors", "req/s", "p50 ms", "p95 ms",
                 "p99 ms", "p99 / floor", "req/s / floor"], rows)
    print()
    print("CPU used during each run (100% = one CPU of 2; 'other' is everything else on the "
          "machine):")
    print_table(["clients", "endpoint", *CpuMeter.COLUMNS], cpu_rows)
    print()
    for clients, p99_ratio, rps_ratio in goals:
        met_p99 = "met" if p99_ratio <= GOAL_P99_RATIO else "NOT met"
        met_rps = "met" if rps_ratio >= GOAL_RPS_RATIO else "NOT met"
        print(f"goals at {clients:>2} clients: p99 {p99_ratio:.2f}x the floor's (goal <= "
              f"{GOAL_P99_RATIO}x: {met_p99}); throughput {rps_ratio:.2f}x (goal >= "
              f"{GOAL_RPS_RATIO}x: {met_rps})")
    routine = next((count for label, count, _kinds in queries if label == "routine"), None)
    if routine is not None:
        met = "met" if routine <= GOAL_ROUTINE_QUERIES else "NOT met"
        print(f"goal: a routine submission makes {routine} queries (goal <= "
              f"{GOAL_ROUTINE_QUERIES}, BEGIN and COMMIT included: {met})")

    if args.profile:
        print()
        profile_bodies = intake_bodies(3000, args.mix, args.seed + 1)
        stacks = profile_workers(
            server, workdir, requests_for("/api/submissions/", profile_bodies, 2_000_000),
            clients=8, seconds=20)
        print_profile(stacks)
    return 0


def main() -> int:
    return bench_main("submission-load-", parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
