"""End-to-end alert latency: from an emergency submission committed to its email and its text
message received.

Run from the project root, with PostgreSQL running::

    .venv/bin/python bench/alert_latency.py [--submissions 50] [--clients 4]
        [--worker-concurrency N] [--server postgres://postgres@127.0.0.1:5432]
        [--database clinic_bench] [--keep-database]

It sets up everything the way production runs it, on this machine, and nothing shared:

- a fresh PostgreSQL database (``clinic_bench`` on ``--server``; dropped and created, migrated,
  and dropped again at the end unless ``--keep-database``);
- a ``redis-server`` of its own on a free port, with no persistence;
- an SMTP server (aiosmtpd) on loopback that notes when it accepts each message, and a fake
  SMS provider speaking Twilio's Messages API (``support.real_services.SmsGateway``) that
  notes when it accepts each text, both in a process of their own (``Sinks``), so that they
  answer as promptly as real servers would instead of waiting for the submitting threads'
  turn on this process's GIL;
- a Celery worker (prefork, the alerts and default queues, ``--worker-concurrency`` processes:
  by default one per CPU, as ``celery worker`` and docker-compose.yml run it) and Celery beat
  running the alert sweep every ``ALERT_SWEEP_SECONDS`` (production's 5 s), as processes;
- a duty rota: the default clinic open round the clock, one clinician on duty with an email
  and a mobile number, so each emergency pages them by email and text at once (the default
  plan, ``clinic.alerting.rules``).

Then ``--clients`` threads submit a burst of ``--submissions`` emergency intakes through the
submission service (``intake.services.submissions.submit_intake``, what POST /api/submissions/
and the patient form call), after one warm-up submission that is not counted.  A submission
counts as committed when ``submit_intake`` returns: its transaction has committed and its
delivery tasks have been queued (which takes about a millisecond).  The latency of each is the
time the SMTP server accepted its email (matched by the reference in the subject), and the time
the gateway accepted its text (the reference in the body), minus that.  Then ``--steady``
more, one at a time ``--steady-interval`` seconds apart (a busy clinic, not a flood), the same
way.

It prints the machine (CPU count and model, the load average before and after: other work on
the machine shows in the figures), the versions, and for each channel and each phase the
median, 90th and 99th percentiles and the maximum of the latency.  With 50 submissions, the
99th percentile is close to the slowest one.  Nothing is asserted; it exits non-zero if an
email or text does not arrive within a minute or a submission is not an emergency.
"""

import argparse
import multiprocessing
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench._common import (  # noqa: E402
    cpu_model,
    drop_database,
    fresh_database,
    load_average,
    open_round_the_clock_with_one_clinician_on_duty,
    percentile,
)
from support.real_services import (  # noqa: E402
    RedisServer,
    ServiceProcess,
    SmsGateway,
    SmtpServer,
    celery_command,
    start_beat,
    wait_until,
)

DEADLINE_SECONDS = 60


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=50,
                        help="emergencies in the burst (default 50)")
    parser.add_argument("--steady", type=int, default=20,
                        help="emergencies after the burst, one at a time (default 20)")
    parser.add_argument("--steady-interval", type=float, default=0.5,
                        help="seconds between the steady ones (default 0.5)")
    parser.add_argument("--clients", type=int, default=4,
                        help="threads submitting at the same time (default 4)")
    parser.add_argument("--worker-concurrency", type=int, default=os.cpu_count() or 1,
                        help="Celery worker processes (default: one per CPU)")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                        help="the PostgreSQL server, without a database name")
    parser.add_argument("--database", default="clinic_bench")
    parser.add_argument("--keep-database", action="store_true")
    return parser.parse_args()


class Sinks:
    """The SMTP server and the SMS gateway, run in a child process; what they accept comes back
    here as ``(kind, subject or body, received_at)`` and is kept in ``emails`` and ``texts``."""

    def __init__(self):
        context = multiprocessing.get_context("fork")  # before Django or any thread starts
        self._arrivals = context.Queue()
        ready = context.Queue()
        self._stop = context.Event()
        self.process = context.Process(target=self._serve, args=(ready,), daemon=True)
        self.process.start()
        self.smtp_port, self.sms_settings = ready.get(timeout=30)
        self.emails: list[tuple[str, float]] = []
        self.texts: list[tuple[str, float]] = []
        self._collector = threading.Thread(target=self._collect, daemon=True)
        self._collector.start()

    def _serve(self, ready) -> None:
        smtp, gateway = SmtpServer(), SmsGateway()
        smtp.start()
        ready.put((smtp.port, gateway.settings()))
        mails = texts = 0
        while not self._stop.is_set():
            for mail in smtp.messages[mails:]:
                self._arrivals.put(("email", mail.message["Subject"], mail.received_at))
                mails += 1
            for text in gateway.messages[texts:]:
                self._arrivals.put(("text", text.body, text.received_at))
                texts += 1
            time.sleep(0.01)
        smtp.stop()
        gateway.stop()

    def _collect(self) -> None:
        while True:
            kind, text, received_at = self._arrivals.get()
            (self.emails if kind == "email" else self.texts).append((text, received_at))

    def stop(self) -> None:
        self._stop.set()
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()


def run(args, workdir: Path) -> int:
    redis_server = RedisServer(workdir)
    sinks = Sinks()
    processes: list[ServiceProcess] = []
    database_url = f"{args.server}/{args.database}"
    try:
        fresh_database(args.server, args.database)
        redis_server.start()
        # Production settings (DJANGO_DEBUG false), which refuse to start without a strong
        # secret key: a random one, for this process and the worker and beat it starts.
        os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
        os.environ.update({
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sinks.smtp_port),
            "SITE_URL": "https://clinic.test",
            "DJANGO_LOG_LEVEL": "WARNING",
            **sinks.sms_settings,
        })
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections

        from intake.services.submissions import submit_intake
        from support.clinical_data import CHEST_PAIN, PATIENT

        call_command("migrate", verbosity=0)
        open_round_the_clock_with_one_clinician_on_duty(phone="+447700900555")
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgres_version = cursor.fetchone()[0]
        with redis_server.client() as client:
            redis_version = client.info("server")["redis_version"]

        env = dict(os.environ, PYTHONUNBUFFERED="1", DJANGO_LOG_LEVEL="INFO")
        worker = ServiceProcess(
            "worker",
            celery_command("worker", "-Q", "alerts,celery", "-c", str(args.worker_concurrency),
                           "--pool", "prefork", "-l", "info", "-n", "bench@%h"),
            env=env, log_path=workdir / "worker.log")
        processes.append(worker)
        worker.wait_for_output(" ready.", timeout=60)
        processes.append(start_beat(env=env, log_dir=workdir))

        committed: dict[str, float] = {}
        lock = threading.Lock()

        def submit(_=None) -> str:
            try:
                outcome = submit_intake(patient=PATIENT, answers=CHEST_PAIN)
                done = time.time()
                reference = outcome.submission.reference
                if outcome.submission.urgency != "emergency":
                    raise SystemExit(f"{reference} screened as {outcome.submission.urgency}")
                with lock:
                    committed[reference] = done
                return reference
            finally:
                connection.close()  # back to the pool: each thread has its own connection

        def emailed(reference: str) -> float | None:
            for subject, received_at in list(sinks.emails):
                if reference in subject:
                    return received_at
            return None

        def texted(reference: str) -> float | None:
            for body, received_at in list(sinks.texts):
                if reference in body:
                    return received_at
            return None

        def arrived(references) -> bool:
            return all(emailed(r) and texted(r) for r in references)

        load_before = load_average()
        warm_up = submit()
        wait_until(lambda: arrived([warm_up]), what="the warm-up email and text",
                   timeout=DEADLINE_SECONDS, detail=worker.tail)
        del committed[warm_up]

        started = time.time()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            burst = list(pool.map(submit, range(args.submissions)))
        submitted = time.time() - started
        wait_until(lambda: arrived(burst), what=f"{args.submissions} emails and texts",
                   timeout=DEADLINE_SECONDS, detail=worker.tail)
        steady = []
        for _ in range(args.steady):
            time.sleep(args.steady_interval)
            steady.append(submit())
        wait_until(lambda: arrived(steady), what=f"{args.steady} more emails and texts",
                   timeout=DEADLINE_SECONDS, detail=worker.tail)
        load_after = load_average()
        expected = 1 + args.submissions + args.steady

        print(f"machine:      {os.cpu_count()} CPUs, {cpu_model()}, {platform.platform()}")
        print(f"load average: {load_before} before, {load_after} after (1, 5, 15 minutes)")
        print(f"versions:     Python {platform.python_version()}, PostgreSQL "
              f"{postgres_version}, Redis {redis_version}, Celery "
              f"{__import__('celery').__version__}, Django {django.__version__}")
        print(f"set-up:       worker prefork -c {args.worker_concurrency}, beat sweep every "
              f"{os.environ.get('ALERT_SWEEP_SECONDS', '5')} s, {args.clients} submitting "
              f"threads")
        print(f"burst:        {args.submissions} emergency submissions in "
              f"{submitted * 1000:.0f} ms; then {args.steady}, {args.steady_interval:g} s apart")
        print(f"sent:         {len(sinks.emails)} emails ({len(sinks.emails) - expected} "
              f"extra), {len(sinks.texts)} texts ({len(sinks.texts) - expected} extra)")
        print("latency (submission committed -> accepted by the SMTP server / SMS gateway), ms:")
        for phase, references in (("burst", burst), ("steady", steady)):
            for channel, arrival in (("email", emailed), ("text", texted)):
                if not references:
                    continue
                latencies = sorted((arrival(r) - committed[r]) * 1000 for r in references)
                print(f"  {phase:6} {channel:5}  median {statistics.median(latencies):4.0f}"
                      f"   p90 {percentile(latencies, 90):4.0f}"
                      f"   p99 {percentile(latencies, 99):4.0f}   min {latencies[0]:4.0f}"
                      f"   max {latencies[-1]:4.0f}")
        connections.close_all()
        return 0
    except Exception as error:  # say where the logs are, then fail
        print(f"failed: {error}\n(logs in {workdir})", file=sys.stderr)
        return 1
    finally:
        for process in reversed(processes):
            process.stop()
        sinks.stop()
        redis_server.stop()
        if not args.keep_database:
            drop_database(args.server, args.database)


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="alert-latency-"))
    status = run(args, workdir)
    if status == 0:  # keep the logs of a failed run
        shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
