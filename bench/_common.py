"""What the HTTP benchmarks share: the service run as production runs it, on this machine, and a
small load generator.

- ``fresh_database`` drops and creates a PostgreSQL database of the benchmark's own (never the
  ``clinic`` database the tests and the developers use), and ``drop_database`` removes it.
- ``setup_django`` points this process at it (settings ``bench.floor.settings``: the clinic's
  own settings plus the floor app) and migrates it, so the script can prepare data, count
  queries and EXPLAIN with the ORM.
- ``Gunicorn`` runs ``config.wsgi`` with the same environment as the script (or, as a what-if,
  ``bench.floor.wsgi_gc_freeze``); ``start_worker``
  runs a Celery worker; Redis and the SMTP sink come from ``support/real_services.py``
  (shared with the tests and ``bench/alert_latency.py``).
- ``run_load`` sends a fixed number of requests from N client threads and returns each one's
  latency; ``summarise`` and ``print_table`` turn them into the printed figures.  ``run_wrk``
  sends the same kind of requests with ``wrk`` (Debian package), a load generator in C that does
  not compete for this interpreter, for a fixed time, and returns the same ``Summary``.

Every process is started in its own process group and stopped by its id; every wait and every
loop is bounded in count and in time.  All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import platform
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

# Importing bench._common needs the project root on sys.path: each script puts it there first.
from support.real_services import (  # noqa: F401 - re-exported for the benchmarks
    RedisServer,
    ServiceProcess,
    SmtpServer,
    celery_command,
    free_port,
    wait_until,
)

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_MODULE = "bench.floor.settings"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
# Behind the TLS-terminating proxy that production has, every request arrives with these.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


# --- The machine ------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def describe_machine() -> list[str]:
    """Lines saying what ran the benchmark: CPUs, memory, the load before it started, versions."""
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                   text=True, timeout=10).stdout.split()[2].removeprefix("v=")
    gunicorn = __import__("gunicorn").__version__
    return [
        f"machine:  {os.cpu_count()} CPUs ({cpu_model()}), {memory_gib():.1f} GiB memory, "
        f"load average before the run {load_average()}",
        f"software: {platform.platform()}; Python {platform.python_version()}, Django "
        f"{django.__version__}, gunicorn {gunicorn}, PostgreSQL {postgres} (shared_buffers "
        f"{shared_buffers}), Redis {redis_version}",
    ]


# --- PostgreSQL and Django --------------------------------------------------------------------


def fresh_database(server: str, name: str) -> str:
    """Drop and create the database ``name`` on ``server``; return its URL."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or name in ("clinic", "postgres"):
        raise SystemExit(f"--database {name!r}: give a lower-case name of the benchmark's own "
                         "(e.g. clinic_bench_load), never a database someone uses.")
    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=10) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def drop_database(server: str, name: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=10) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_environment(database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a production install, for gunicorn, the worker and this process.

    DJANGO_DEBUG is false (so JSON logs, HTTPS-only settings, the manifest static storage);
    the service believes it is behind a TLS-terminating proxy that sets X-Forwarded-Proto and
    appends the client's address to X-Forwarded-For (one proxy), which is how production runs.
    """
    env = {
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "DJANGO_SECURE_PROXY_SSL_HEADER": "true",
        "DJANGO_NUM_PROXIES": "1",
        "DJANGO_LOG_LEVEL": "INFO",
        "BENCH_STATIC_ROOT": str(workdir / "static"),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    (workdir / "static").mkdir(exist_ok=True)
    return {**os.environ, **env}


def setup_django(env: dict[str, str]) -> None:
    """Point this process at the benchmark's database and settings, and migrate it."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # This process's own log lines (the SMTP sink's chatter, the few submissions it makes to
    # count queries) would drown the figures; the servers log as configured.
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)


# --- Processes --------------------------------------------------------------------------------


class Gunicorn:
    """``gunicorn config.wsgi`` on a free loopback port, as production runs it."""

    def __init__(self, *, env: dict[str, str], workdir: Path, workers: int,
                 worker_class: str = "sync", threads: int = 1, gc_freeze: bool = False):
        self.port = free_port()
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.gc_freeze = gc_freeze
        # bench.floor.wsgi_gc_freeze is config.wsgi followed by gc.freeze(): a what-if.
        app = "bench.floor.wsgi_gc_freeze:application" if gc_freeze else "config.wsgi"
        args = [sys.executable, "-m", "gunicorn", app, "--bind",
                f"127.0.0.1:{self.port}", "--workers", str(workers), "--worker-class",
                worker_class, "--chdir", str(ROOT), "--timeout", "60"]
        if worker_class == "gthread":
            args += ["--threads", str(threads)]
        self.process = ServiceProcess(f"gunicorn:{self.port}", args, env=env,
                                      log_path=workdir / "gunicorn.log")
        wait_until(self._answers, what=f"gunicorn on port {self.port} to answer",
                   timeout=60, interval=0.2, detail=self.process.tail)

    @property
    def description(self) -> str:
        if self.worker_class == "gthread":
            text = f"gunicorn, {self.workers} gthread workers x {self.threads} threads"
        else:
            text = f"gunicorn, {self.workers} {self.worker_class} workers"
        if self.gc_freeze:
            text += ", WHAT-IF: gc.freeze() after loading (bench.floor.wsgi_gc_freeze)"
        return text

    def _answers(self) -> bool:
        if self.process.popen.poll() is not None:
            raise AssertionError(f"gunicorn exited\n{self.process.tail()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", "/healthz", headers=PROXY_HEADERS)
            status = connection.getresponse().status
            connection.close()
        except OSError:
            return False
        return status in (200, 503)

    def worker_pids(self) -> list[int]:
        """The worker processes (the master's children), e.g. for py-spy."""
        output = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)],
                                capture_output=True, text=True, timeout=10).stdout
        return [int(pid) for pid in output.split()]

    def stop(self) -> None:
        self.process.stop(grace=10)  # SIGTERM: a graceful shutdown, then SIGKILL if need be


def start_worker(*, env: dict[str, str], workdir: Path, concurrency: int) -> ServiceProcess:
    """A Celery worker for the alerts and default queues (prefork), ready to take tasks."""
    worker = ServiceProcess(
        "celery-worker",
        celery_command("worker", "-Q", "alerts,celery", "-c", str(concurrency), "--pool",
                       "prefork", "-l", "info", "-n", "bench@%h", "--without-gossip",
                       "--without-mingle", "--without-heartbeat"),
        env=env, log_path=workdir / "worker.log")
    worker.wait_for_output(" ready.", timeout=60)
    return worker


def stop_all(things: Iterable) -> None:
    """Stop what was started, last first; one failing to stop does not keep the others up."""
    for thing in reversed(list(things)):
        try:
            thing.stop()
        except Exception as error:  # keep stopping the rest
            print(f"could not stop {thing!r}: {error}", file=sys.stderr)


def open_round_the_clock_with_one_clinician_on_duty(*, phone: str = "") -> None:
    """The default clinic open every hour of the week with Dr Duty always on duty (by email,
    and by text when given a ``phone``), so that every alert pages at once.  Django must be set
    up (``setup_django``)."""
    import datetime

    from clinic.models import Clinic, Clinician, DutyShift, OpeningHours

    clinic = Clinic.objects.get(is_default=True)
    end_of_day = datetime.time(23, 59, 59, 999999)
    clinic.opening_hours.all().delete()
    OpeningHours.objects.bulk_create(
        OpeningHours(clinic=clinic, weekday=day, opens=datetime.time(0), closes=end_of_day)
        for day in range(7))
    duty = Clinician.objects.create(name="Dr Duty", email="duty@clinic.test", phone=phone)
    DutyShift.objects.bulk_create(
        DutyShift(clinic=clinic, clinician=duty, weekday=day, starts=datetime.time(0),
                  ends=end_of_day)
        for day in range(7))


# wrk: each of its threads runs this script in a Lua state of its own.  The request bodies are read
# from a file (one JSON body per line) and sent in turn, each from an X-Forwarded-For address of
# its own (10.<thread>.x.y), so the throttle keeps a short history per patient as in production.
# ``done`` prints the figures as one JSON line.
WRK_SCRIPT = r"""
local bodies, path, headers = {}, os.getenv("WRK_PATH"), {}
for line in io.lines(os.getenv("WRK_BODIES")) do bodies[#bodies + 1] = line end
for name, value in string.gmatch(os.getenv("WRK_HEADERS"), "([^\n:]+): ([^\n]*)") do
  headers[name] = value
end
local threads = 0
function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end
local sent = 0
function request()
  sent = sent + 1
  headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", (thread_number or 0) % 256,
                                             math.floor(sent / 256) % 256, sent % 256)
  return wrk.format("POST", path, headers, bodies[(sent - 1) % #bodies + 1])
end
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "microseconds": %d, "status": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "p50": %f, "p95": %f, "p99": %f, "max": %f}\n',
    summary.requests, summary.duration, errors.status, errors.connect, errors.read,
    errors.write, errors.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max))
end
"""


def run_wrk(port: int, path: str, bodies: Sequence[bytes], *, connections: int, seconds: float,
            workdir: Path, headers: dict[str, str] | None = None, threads: int = 2) -> Summary:
    """POST ``bodies`` in turn to ``path`` with ``wrk`` for ``seconds``, from ``connections``
    connections on ``threads`` threads; its figures as a ``Summary`` (latency in ms).  Errors
    are responses outside 2xx-3xx, and failed connects, reads, writes and timeouts (10 s)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install wrk), or use the threads client")
    script, bodies_file = workdir / "wrk.lua", workdir / "wrk-bodies.txt"
    script.write_text(WRK_SCRIPT)
    bodies_file.write_bytes(b"\n".join(body.replace(b"\n", b" ") for body in bodies) + b"\n")
    sent_headers = {"Content-Type": "application/json", **PROXY_HEADERS, **(headers or {})}
    env = {**os.environ, "WRK_PATH": path, "WRK_BODIES": str(bodies_file),
           "WRK_HEADERS": "\n".join(f"{name}: {value}" for name, value in sent_headers.items())}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(
        [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout",
         "10s", "-s", str(script), f"http://127.0.0.1:{port}{path}"],
        env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = next((json.loads(line) for line in finished.stdout.splitlines()
                    if line.startswith("{")), None)
    if finished.returncode != 0 or figures is None:
        raise RuntimeError(f"wrk failed ({finished.returncode}): {finished.stderr[-500:]}")
    wall = figures["microseconds"] / 1e6
    errors = sum(figures[kind] for kind in ("status", "connect", "read", "write", "timeout"))
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Summary(
        requests=figures["requests"], errors=errors, rps=figures["requests"] / wall,
        p50=figures["p50"] / 1000, p95=figures["p95"] / 1000, p99=figures["p99"] / 1000,
        max=figures["max"] / 1000, client_cpu_share=client_cpu / wall)


def add_service_arguments(parser, *, database: str) -> None:
    """The options every HTTP benchmark takes for the services it starts."""
    parser.add_argument("--gc-freeze", action="store_true",
                        help="what-if: serve config.wsgi followed by gc.freeze() "
                             "(bench/floor/wsgi_gc_freeze.py)")
    parser.add_argument("--server", default=DEFAULT_SERVER,
                        help="the PostgreSQL server, without a database name")
    parser.add_argument("--database", default=database,
                        help="the benchmark's own database, dropped and created (default "
                             f"{database})")
    parser.add_argument("--keep-database", action="store_true")


def bench_main(prefix: str, args, run: Callable[..., int]) -> int:
    """Run one benchmark: ``run(args, workdir, started)`` in a new temporary folder, appending
    what it starts to ``started``.  Afterwards, whatever happened, stop those (last first), close
    Django's connections and drop the benchmark's database (unless ``--keep-database``).  The
    folder, with the services' logs, is kept only when the run failed, and the failure names it.
    """
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    started: list = []
    try:
        status = run(args, workdir, started)
    except Exception as error:  # say where the logs are, then fail
        print(f"failed: {type(error).__name__}: {error}\n(logs in {workdir})", file=sys.stderr)
        status = 1
    finally:
        if "django.db" in sys.modules:
            sys.modules["django.db"].connections.close_all()
        stop_all(started)
        if not args.keep_database:
            drop_database(args.server, args.database)
    if status == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    return status


# --- The load generator -----------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class LoadResult:
    latencies_ms: list[float]
    wall_seconds: float
    errors: dict[str, int]
    client_cpu_seconds: float  # CPU this process (the client threads) used meanwhile
    stopped_by_time: bool

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)


class _Connection:
    """A keep-alive HTTP/1.1 connection that reconnects when the server closes it (gunicorn's
    sync workers close after every response; gthread workers keep the connection)."""

    def __init__(self, port: int):
        self.port = port
        self.http: http.client.HTTPConnection | None = None

    def send(self, request: Request) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.http is None:
                self.http = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.http.connect()
                self.http.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.http.request(request.method, request.path, body=request.body,
                                  headers={**PROXY_HEADERS, **request.headers})
                response = self.http.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server had already closed: once more, afresh.
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, body
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.http is not None:
            self.http.close()
            self.http = None


def http_request(port: int, method: str, path: str, *, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPMessage,
                                                                 bytes]:
    """One request on a connection of its own: (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={**PROXY_HEADERS, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.msg, response.read()
    finally:
        connection.close()


def run_load(port: int, requests: Sequence[Request], *, clients: int, time_limit: float,
             expect: int | Callable[[int, bytes], bool] = 200) -> LoadResult:
    """Send ``requests`` (each once, in order, shared out as clients come free) from
    ``clients`` threads, each a closed loop on its own connection: send, wait for the whole
    response, send the next.  Stops when the requests run out or after ``time_limit`` seconds,
    whichever is first.  Latency is from just before sending to the last byte received."""
    ok = expect if callable(expect) else (lambda status, _body: status == expect)
    lock = threading.Lock()
    position = 0
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + time_limit

    def client() -> None:
        nonlocal position
        connection = _Connection(port)
        try:
            while time.monotonic() < deadline:
                with lock:
                    if position >= len(requests):
                        return
                    request = requests[position]
                    position += 1
                start = time.perf_counter()
                try:
                    status, body = connection.send(request)
                except OSError as error:
                    connection.close()
                    with lock:
                        errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                    continue
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    if ok(status, body):
                        latencies.append(elapsed)
                    else:
                        key = f"HTTP {status}"
                        errors[key] = errors.get(key, 0) + 1
                        if errors[key] == 1:
                            print(f"  unexpected {key} for {request.path}: {body[:300]!r}",
                                  file=sys.stderr)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, name=f"client-{n}", daemon=True)
               for n in range(clients)]
    cpu_before = time.process_time()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        # Bounded: every request has a 30 s socket timeout and the loop stops at the deadline.
        thread.join(timeout=time_limit + 65)
    wall = time.perf_counter() - started
    return LoadResult(latencies_ms=latencies, wall_seconds=wall, errors=errors,
                      client_cpu_seconds=time.process_time() - cpu_before,
                      stopped_by_time=position < len(requests))


# --- Where the CPU goes -----------------------------------------------------------------------


class CpuMeter:
    """CPU time used between ``start`` and ``stop``, per part of the set-up, as a percentage of
    one CPU over that wall time: the processes of each named process group (gunicorn's master
    and workers, the Celery worker's pool), PostgreSQL's processes, this process (the load
    generator, and the SMTP sink's thread), and everything else on the machine."""

    COLUMNS = ("gunicorn", "postgres", "celery worker", "redis", "client", "other", "idle")

    def __init__(self, groups: dict[str, int]):
        self.groups = {pgid: name for name, pgid in groups.items()}
        self.ticks_per_second = os.sysconf("SC_CLK_TCK")
        self._before: dict[int, tuple[str, int]] = {}
        self._started = 0.0

    def _snapshot(self) -> dict[int, tuple[str, int]]:
        me = os.getpid()
        seen = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "stat").read_text()
            except OSError:  # it has gone
                continue
            pid = int(entry.name)
            comm = raw[raw.index("(") + 1: raw.rindex(")")]
            fields = raw[raw.rindex(")") + 2:].split()
            pgrp, ticks = int(fields[2]), int(fields[11]) + int(fields[12])
            if pid == me or comm == "wrk":
                name = "client"
            elif pgrp in self.groups:
                name = self.groups[pgrp]
            elif comm.startswith("postgres"):
                name = "postgres"
            else:
                name = "other"
            seen[pid] = (name, ticks)
        return seen

    def start(self) -> None:
        self._before = self._snapshot()
        self._started = time.monotonic()

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        wall = time.monotonic() - self._started
        used: dict[str, float] = {}
        for pid, (name, ticks) in after.items():
            spent = ticks - self._before.get(pid, (name, 0))[1]
            used[name] = used.get(name, 0.0) + spent / self.ticks_per_second / wall * 100
        used["idle"] = max(0.0, (os.cpu_count() or 1) * 100 - sum(used.values()))
        return used


# --- Figures ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), interpolating between the two nearest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    requests: int
    errors: int
    rps: float
    p50: float
    p95: float
    p99: float
    max: float
    client_cpu_share: float  # of one CPU


def summarise(result: LoadResult) -> Summary:
    values = result.latencies_ms
    return Summary(
        requests=result.completed, errors=sum(result.errors.values()),
        rps=result.completed / result.wall_seconds if result.wall_seconds else 0.0,
        p50=percentile(values, 50), p95=percentile(values, 95), p99=percentile(values, 99),
        max=max(values, default=float("nan")),
        client_cpu_share=result.client_cpu_seconds / result.wall_seconds
        if result.wall_seconds else 0.0,
    )


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A plain-text table, numbers right-aligned, that reads the same in a terminal and in
    Markdown (it is one: pipes and a separator row)."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(header), *(len(row[i]) for row in cells)) if cells else len(header)
              for i, header in enumerate(headers)]
    numeric = [all(_is_number(row[i]) for row in cells) if cells else False
               for i in range(len(headers))]

    def line(values):
        return "| " + " | ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)) + " |"

    print(line(headers))
    print("| " + " | ".join(("-" * (w - 1) + ":") if right else "-" * w
                            for w, right in zip(widths, numeric, strict=True)) + " |")
    for row in cells:
        print(line(row))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d.]+(x|%)?|nan|-", text))

