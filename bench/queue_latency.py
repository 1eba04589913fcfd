"""Latency of the clinicians' queue with 100,000 submissions in the database, and its plan.

Run from the project root, with PostgreSQL running::

    .venv/bin/python bench/queue_latency.py [--submissions 100000] [--requests 200]
        [--levels 1,4] [--backlog 10000] [--workers 5]
        [--server postgres://postgres@127.0.0.1:5432] [--database clinic_bench_queue]
        [--keep-database]

It builds a fresh PostgreSQL database (``--database``; dropped, created and migrated, dropped
again at the end unless ``--keep-database``) and fills it with COPY, in a few seconds:

- three clinics; the default one (where the benchmark's clinician works) has 60% of the
  submissions, the others 25% and 15%, so the queue's scoping to the user's clinics filters;
- ``--submissions`` intakes spread over three years, about 90 a day, each with the answers and
  flags of one of the clinical vignettes of the current questionnaire version
  (``tests/data/vignettes-v2.json``, by way of ``support/clinical_data.py``), screened by the
  active rule set (version 2) at the case's age, with a date of birth that gives that age on the day
  of the intake: 55% routine, 30% soon, 12% urgent, 3% emergency;
- an alert, acknowledged unless recent, and its delivered notification for every urgent and
  emergency one;
- reviewed, except those of the last two days, a tenth of those of the five days before, and
  one in a thousand older ones that were forgotten: a queue of a few hundred open cases,
  about 300 of them at the clinician's clinic.

Then it runs gunicorn (``config.wsgi``, 5 sync workers, ``DJANGO_DEBUG=false``, static files
collected, Redis as the cache) and measures, from ``--levels`` client threads (``--requests``
each, after a warm-up):

- ``GET /api/queue/`` with a clinician's API token (the first page, 50 cases);
- ``GET /queue/``, the page, signed in through the login form (a session cookie; the first
  50 rows);
- ``GET /queue/rows/``, the rows alone, as the open page asks for them when something changed;
- ``GET /queue/rows/`` with ``If-None-Match`` and the ETag of the last answer, as the open page
  polls every 3 seconds: ``304 Not Modified`` while nothing changes (a 200 if the minute turns
  during the run).

It prints the latency table (p50, p95, p99 in ms; the goal is p95 under 100 ms), the CPU each
part used meanwhile, and ``EXPLAIN (ANALYZE, BUFFERS)`` of the queries of intake_submission that
``clinic.review.cases.queue_page`` (the page's first 50 rows) and ``queue_version`` (the polls'
ETag) make for the clinician, and which indexes they read the submissions through.  With
``--backlog N`` it then reopens N older cases at random (a clinic that has fallen behind by
months), analyses, and measures and explains again: the queue's parts walk the partial index
``open_queue_order`` in queue order and stop at the limit, however long the queue.
No Celery worker runs: reading the queue queues no task.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import random
import re
import sys
import time
import zoneinfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench._common import (
    CpuMeter,
    Gunicorn,
    RedisServer,
    Request,
    add_service_arguments,
    bench_main,
    describe_machine,
    fresh_database,
    http_request,
    print_table,
    run_load,
    service_environment,
    setup_django,
    summarise,
)
from support.clinical_data import VIGNETTES, date_of_birth_for, facts

LONDON = zoneinfo.ZoneInfo("Europe/London")  # the default clinic's time zone

MIX = {"routine": 55, "soon": 30, "urgent": 12, "emergency": 3}
CLINICS = [("Bedford", 60), ("Luton", 25), ("Milton Keynes", 15)]
YEARS = 3
CLINICIAN_PASSWORD = "bench-clinician-password"
GOAL_P95_MS = 100
FIRST_NAMES = ["Ada", "Ben", "Chloe", "Dev", "Esther", "Farid", "Grace", "Hamza", "Isla",
               "Jonah", "Kemi", "Liam", "Maya", "Nikhil", "Olivia", "Priya", "Rory", "Sana"]
LAST_NAMES = ["Adeyemi", "Brown", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hughes",
              "Iqbal", "Jones", "Khan", "Lewis", "Morgan", "Nowak", "Owen", "Patel", "Roberts"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="per endpoint and level")
    parser.add_argument("--levels", default="1,4", help="concurrent clients (default 1,4)")
    parser.add_argument("--time-limit", type=float, default=30.0,
                        help="seconds at most per endpoint and level (default 30)")
    parser.add_argument("--backlog", type=int, default=10_000,
                        help="then reopen this many older cases and measure again (0: don't)")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn sync workers")
    parser.add_argument("--seed", type=int, default=11)
    add_service_arguments(parser, database="clinic_bench_queue")
    args = parser.parse_args()
    args.levels = [int(n) for n in args.levels.split(",")]
    return args


# --- Filling the database ---------------------------------------------------------------------


def copy_text(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return r"\N"
    if isinstance(value, datetime.datetime | datetime.date):
        value = value.isoformat()
    return (str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def copy_rows(db: psycopg.Connection, table: str, columns: list[str], lines) -> None:
    """COPY ``lines`` (each a row in text format, newline included) into ``table``, in chunks."""
    with db.cursor() as cursor, cursor.copy(
            f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= 20_000:
                copy.write("".join(chunk))
                chunk.clear()
        if chunk:
            copy.write("".join(chunk))


def row(*values) -> str:
    return "\t".join(copy_text(v) for v in values) + "\n"


def vignette_templates(version) -> dict[str, list[dict]]:
    """Per urgency, the vignettes' answers, age, and the flags the active rule set gives them
    (screened as if submitted today; an age's record in the flags says so)."""
    from screening.services import screen_answers

    today = datetime.datetime.now(LONDON).date()
    templates: dict[str, list[dict]] = collections.defaultdict(list)
    for vignette in VIGNETTES:
        result = screen_answers(version, vignette["answers"], facts(vignette["age"], today))
        if result.urgency != vignette["expected_urgency"]:
            raise SystemExit(f"vignette {vignette['id']} screened {result.urgency}")
        # The answers as the submission's document; each flag as the tail of a COPY line, the
        # submission id in front.
        answers = json.dumps(vignette["answers"])
        flags = [row(result.rule_set_id, f.code, f.title, f.category, f.tier, f.explanation,
                     json.dumps(f.evidence), json.dumps(list(f.derived)), position)
                 for position, f in enumerate(result.flags)]
        templates[result.urgency].append({"answers": answers, "flags": flags,
                                          "age": vignette["age"]})
    return templates


def make_clinician():
    from django.contrib.auth.models import Group, User

    from clinic.models import Clinic, Clinician
    from core.roles import CLINICIANS_GROUP
    from core.tokens import issue_token

    user = User.objects.create_user("clinician", password=CLINICIAN_PASSWORD)
    user.groups.add(Group.objects.get(name=CLINICIANS_GROUP))
    clinician = Clinician.objects.create(name="Dr Queue", user=user, email="queue@clinic.test")
    clinician.clinics.add(Clinic.objects.get(is_default=True))
    return user, clinician, issue_token(user)[0]


def fill(database_url: str, count: int, seed: int, user, clinician) -> dict[str, int]:
    """Fill the database with ``count`` submissions and what goes with them; return counts."""
    from clinic.models import Clinic
    from intake.references import new_reference
    from intake.selectors import current_version

    rng = random.Random(seed)
    version = current_version()
    templates = vignette_templates(version)
    rule_set_id = _rule_set_id(templates)
    clinics = [Clinic.objects.get(is_default=True).pk]
    for name, _share in CLINICS[1:]:
        clinics.append(Clinic.objects.create(name=name, slug=name.lower().replace(" ", "-")).pk)
    clinic_weights = [share for _name, share in CLINICS]

    now = datetime.datetime.now(datetime.UTC)
    start = now - datetime.timedelta(days=365 * YEARS)
    span = (now - start).total_seconds()
    moments = sorted(start + datetime.timedelta(seconds=rng.random() * span)
                     for _ in range(count))
    tiers = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    references: set[str] = set()

    submissions, flags, alerts, notifications = [], [], [], []
    counts: collections.Counter = collections.Counter()
    for sid, (when, tier) in enumerate(zip(moments, tiers, strict=True), start=1):
        template = rng.choice(templates[tier])
        age = now - when
        if age < datetime.timedelta(days=2):
            open_case = True
        elif age < datetime.timedelta(days=7):
            open_case = rng.random() < 0.1
        else:
            open_case = rng.random() < 0.001
        reviewed_at = None if open_case else when + datetime.timedelta(
            minutes=rng.randint(5, 60 * 48) if tier in ("routine", "soon") else rng.randint(5, 90))
        reference = new_reference()
        while reference in references:
            reference = new_reference()
        references.add(reference)
        clinic = rng.choices(clinics, weights=clinic_weights)[0]
        counts["open" if open_case else "reviewed"] += 1
        if open_case and clinic == clinics[0]:
            counts["open at the clinician's clinic"] += 1
        submissions.append(row(
            sid, reference, clinic, version.pk,
            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            date_of_birth_for(template["age"], when.astimezone(LONDON).date()),
            f"+44 7700 9{rng.randint(0, 99999):05d}", "", when, tier, False,
            rule_set_id,
            "open" if open_case else "reviewed",
            None if open_case else user.pk, reviewed_at,
            "" if open_case else "Called the patient; advice given.",
            "", "", "",  # no review outcome, judgement or judged flag recorded
            "en-gb", reviewed_at or when,  # changed when it arrived, or when reviewed
            template["answers"]))
        flags.extend(f"{sid}\t{line}" for line in template["flags"])
        if tier in ("urgent", "emergency"):
            aid = len(alerts) + 1
            acknowledged = age > datetime.timedelta(hours=2) or rng.random() < 0.5
            acknowledged_at = when + datetime.timedelta(minutes=rng.randint(1, 25))
            minutes = 5 if tier == "emergency" else 30
            alerts.append(row(
                aid, sid, clinic, tier, rng.random() < 0.3, when, 0,
                when + datetime.timedelta(minutes=minutes),
                acknowledged_at if acknowledged else None, user.pk if acknowledged else None,
                "[]", 0))  # no escalation plan kept, as for an alert raised before plans were
            delivered = when + datetime.timedelta(seconds=rng.uniform(0.2, 2))
            notifications.append(row(
                aid, aid, clinician.pk, 0, "delivered", 0, 0, when, None, when, when,
                delivered, False,  # paged on its own, not held for a digest
                "page", 0, 0, ""))  # a first page, the plan's first step, the usual channel
    with psycopg.connect(database_url, autocommit=True) as db:
        # A bulk load of rows made consistent here: foreign-key triggers off for this session.
        db.execute("SET session_replication_role = replica")
        copy_rows(db, "intake_submission", [
            "id", "reference", "clinic_id", "questionnaire_version_id", "full_name",
            "date_of_birth", "phone", "email", "submitted_at", "urgency", "screening_failed",
            "rule_set_id", "status", "reviewed_by_id", "reviewed_at", "review_note",
            "outcome", "triage_judgement", "judged_flag", "language", "changed_at", "answers"],
            submissions)
        copy_rows(db, "screening_flag", ["submission_id", "rule_set_id", "rule_code", "title",
                                         "category", "tier", "explanation", "evidence",
                                         "derived", "position"], flags)
        copy_rows(db, "clinic_alert", [
            "id", "submission_id", "clinic_id", "urgency", "out_of_hours", "created_at",
            "level", "escalate_at", "acknowledged_at", "acknowledged_by_id", "escalation_plan",
            "follow_ups"],
            alerts)
        copy_rows(db, "clinic_notification", [
            "id", "alert_id", "clinician_id", "level", "status", "channel_index",
            "tries_on_channel", "next_attempt_at", "claimed_until", "last_queued_at",
            "created_at", "delivered_at", "grouped", "reason", "sequence", "step", "channel"],
            notifications)
        db.execute("SET session_replication_role = origin")
        for table in ("intake_submission", "clinic_alert", "clinic_notification"):
            db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                       f"(SELECT max(id) FROM {table}))")
        # What autovacuum would have done over three years: statistics and visibility map.
        for table in ("intake_submission", "screening_flag", "clinic_alert",
                      "clinic_notification"):
            db.execute(f"VACUUM ANALYZE {table}")
    counts.update(submissions=len(submissions), flags=len(flags), alerts=len(alerts))
    return counts


def _rule_set_id(templates) -> int:
    for tier_templates in templates.values():
        for template in tier_templates:
            if template["flags"]:
                return int(template["flags"][0].split("\t", 1)[0])
    raise SystemExit("no vignette raised a flag: cannot tell the rule set")


def reopen_backlog(database_url: str, count: int, seed: int) -> int:
    """Reopen ``count`` reviewed cases older than a week, at random; return the open count."""
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("SELECT setseed(%s)", [1 / (seed + 1)])
        db.execute(
            "UPDATE intake_submission SET status = 'open', reviewed_by_id = NULL, "
            "reviewed_at = NULL, review_note = '', changed_at = now() "
            "WHERE id IN (SELECT id FROM intake_submission WHERE status = 'reviewed' "
            "AND submitted_at < now() - interval '7 days' "
            "ORDER BY random() LIMIT %s)", [count])
        db.execute("VACUUM ANALYZE intake_submission")
        return db.execute(
            "SELECT count(*) FROM intake_submission WHERE status = 'open'").fetchone()[0]


# --- Signing in -------------------------------------------------------------------------------


def cookies_from(headers) -> dict[str, str]:
    jar = {}
    for header in headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        jar[name.strip()] = rest.split(";", 1)[0]
    return jar


def sign_in(port: int, username: str, password: str) -> str:
    """Sign in through the login form as a browser does; return the Cookie header to send."""
    origin = f"https://127.0.0.1:{port}"
    status, headers, body = http_request(port, "GET", "/accounts/login/")
    if status != 200:
        raise SystemExit(f"GET /accounts/login/ answered {status}")
    jar = cookies_from(headers)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    form = (f"csrfmiddlewaretoken={token}&username={username}&password={password}"
            "&otp_token=&next=/queue/").encode()
    status, headers, body = http_request(port, "POST", "/accounts/login/", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Referer": f"{origin}/accounts/login/",
        "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
    jar.update(cookies_from(headers))
    if status != 302 or "sessionid" not in jar:
        raise SystemExit(f"signing in failed: {status} {body[:300]!r}")
    return "; ".join(f"{k}={v}" for k, v in jar.items())


# --- Measuring --------------------------------------------------------------------------------


def explain(user) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of each query the page's first 50 rows and the polled rows'
    ETag make of intake_submission, as ``clinic.review.cases`` builds them for the clinician."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clinic.review import cases
    from clinic.review.views import QUEUE_PAGE

    with CaptureQueriesContext(connection) as captured:
        cases.queue_page(user, shown=QUEUE_PAGE)
        cases.queue_version(user, shown=QUEUE_PAGE)
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if 'FROM "intake_submission"' not in query["sql"]:
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
            plans.append(f"-- {query['sql'][:160]}...\n"
                         + "\n".join(line for (line,) in cursor.fetchall()))
    return "\n\n".join(plans)


CPU_COLUMNS = ("gunicorn", "postgres", "client", "other", "idle")


SUBMISSION_INDEXES = ("open_queue_order", "submission_by_status", "intake_submission_pkey",
                      "submission_changes", "open_cases_by_clinic")


def index_used(plan: str) -> str:
    """How the plans read intake_submission: the indexes they scan, and any sequential scan."""
    used = []
    for line in plan.splitlines():
        found = re.search(r"(Index Scan|Index Only Scan|Bitmap Index Scan) (?:using|on) (\w+)",
                          line)
        if found and found.group(2) in SUBMISSION_INDEXES:
            used.append(f"{found.group(1)} on {found.group(2)}")
        elif "Seq Scan on intake_submission" in line:
            used.append("a sequential scan of intake_submission")
    return ", ".join(dict.fromkeys(used)) or "unknown (see the plans)"


def measure(port: int, endpoints, levels, count: int, time_limit: float,
            meter: CpuMeter) -> list[tuple]:
    rows = []
    for clients in levels:
        for name, request, expect in endpoints:
            request = request() if callable(request) else request
            meter.start()
            result = run_load(port, [request] * count, clients=clients, time_limit=time_limit,
                              expect=expect)
            cpu = meter.stop()
            if result.errors:
                print(f"  {name} at {clients}: errors {result.errors}", file=sys.stderr)
            s = summarise(result)
            rows.append((clients, name, s.requests, s.errors, s.rps, s.p50, s.p95, s.p99,
                         s.max, "met" if s.p95 < GOAL_P95_MS else "NOT met",
                         *(f"{cpu.get(column, 0):.0f}%" for column in CPU_COLUMNS)))
    return rows


HEADERS = ["clients", "request", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms",
           "max ms", f"p95 < {GOAL_P95_MS} ms", *(f"CPU {c}" for c in CPU_COLUMNS)]


def run(args, workdir: Path, started: list) -> int:
    redis_server = RedisServer(workdir)
    database_url = fresh_database(args.server, args.database)
    redis_server.start()
    started.append(redis_server)
    env = service_environment(database_url, workdir, REDIS_URL=redis_server.url)
    setup_django(env)
    from django.core.management import call_command

    machine = describe_machine()
    began = time.monotonic()
    call_command("collectstatic", interactive=False, verbosity=0)
    static_seconds = time.monotonic() - began

    user, clinician, token = make_clinician()
    began = time.monotonic()
    counts = fill(database_url, args.submissions, args.seed, user, clinician)
    fill_seconds = time.monotonic() - began

    server = Gunicorn(env=env, workdir=workdir, workers=args.workers,
                      gc_freeze=args.gc_freeze)
    started.append(server)
    cookie = sign_in(server.port, "clinician", CLINICIAN_PASSWORD)

    def poll() -> Request:
        """The rows as queue.js polls them: with the ETag of the last answer (fetched just
        before each run: it changes at least once a minute)."""
        _status, headers, _body = http_request(server.port, "GET", "/queue/rows/",
                                               headers={"Cookie": cookie})
        return Request("GET", "/queue/rows/", headers={
            "Cookie": cookie, "If-None-Match": headers.get("ETag", "")})

    endpoints = [
        ("GET /api/queue/ (token)", Request("GET", "/api/queue/", headers={
            "Authorization": f"Token {token}", "Accept": "application/json"}), 200),
        ("GET /queue/ (session)", Request("GET", "/queue/", headers={"Cookie": cookie}), 200),
        ("GET /queue/rows/ (session)", Request("GET", "/queue/rows/",
                                               headers={"Cookie": cookie}), 200),
        # 304 while nothing changes; a 200 when the minute turns during the run.
        ("GET /queue/rows/ (If-None-Match)", poll,
         lambda status, _body: status in (200, 304)),
    ]
    for _name, request, expect in endpoints:  # warm-up, not counted
        request = request() if callable(request) else request
        run_load(server.port, [request] * (4 * args.workers), clients=args.workers,
                 time_limit=30, expect=expect)
    meter = CpuMeter(groups={"gunicorn": server.process.pid,
                             "redis": redis_server.process.pid})
    rows = measure(server.port, endpoints, args.levels, args.requests, args.time_limit,
                   meter)
    plan = explain(user)

    backlog_rows, backlog_plan, open_after = [], "", 0
    if args.backlog:
        open_after = reopen_backlog(database_url, args.backlog, args.seed)
        backlog_rows = measure(server.port, endpoints, args.levels, args.requests,
                               args.time_limit, meter)
        backlog_plan = explain(user)

    print("\n".join(machine))
    print(f"server:   {server.description}; Redis (cache) on loopback; "
          "DJANGO_DEBUG=false; no Celery worker (reading the queue queues nothing)")
    print(f"client:   {max(args.levels)} threads at most, in this process (stdlib "
          "http.client), on the same CPUs")
    at_clinic = counts["open at the clinician's clinic"]
    print(f"data:     {counts['submissions']} submissions over {YEARS} years in 3 clinics "
          f"(each with its answers, {counts['flags']} flags, {counts['alerts']} "
          f"alerts), loaded by COPY in {fill_seconds:.1f} s (collectstatic "
          f"{static_seconds:.1f} s); open {counts['open']}, of them "
          f"{at_clinic} at the clinician's clinic; reviewed "
          f"{counts['reviewed']}")
    print("CPU columns: share of one CPU during the run (2 CPUs = 200%); 'other' is everything "
          "else on the machine")
    print()
    print_table(HEADERS, rows)
    print()
    print("EXPLAIN (ANALYZE, BUFFERS) of the queries of intake_submission that "
          "clinic.review.cases.queue_page (the page's first 50 rows: their keys, then the rows) "
          "and queue_version (the polled rows' ETag) make for the clinician:")
    print(plan)
    if args.backlog:
        print()
        print(f"after reopening {args.backlog} older cases ({open_after} open in all):")
        print_table(HEADERS, backlog_rows)
        print()
        print("EXPLAIN (ANALYZE, BUFFERS), the same queries with the backlog:")
        print(backlog_plan)
    print()
    print(f"the queue's rows are read through: {index_used(plan)}"
          + (f"; with the backlog: {index_used(backlog_plan)}" if args.backlog else ""))
    return 0


def main() -> int:
    return bench_main("queue-latency-", parse_args(), run)


if __name__ == "__main__":
    sys.exit(main())
