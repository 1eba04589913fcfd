"""Real services on loopback, for the tests (``tests/alerts``, ``tests/test_database_outage.py``)
and the benchmarks (``bench/``) alike: a Redis server of our own, a PostgreSQL cluster of our
own, an SMTP server that can be made slow or stopped, an HTTP receiver for webhooks, and Celery
worker, beat and gunicorn processes.

Nothing here is a mock: each is the real program or a real server speaking the real protocol on
127.0.0.1.  Every process is started in its own session, so stopping it kills its whole process
group (a prefork worker's children included), and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis
from aiosmtpd.controller import Controller

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class WaitTimedOut(AssertionError):
    pass


def wait_until(condition: Callable[[], object], *, what: str, timeout: float = 30.0,
               interval: float = 0.05, detail: Callable[[], str] | None = None):
    """Poll ``condition`` until it returns something true, and return that; fail saying
    ``what`` was awaited (and ``detail()``, e.g. a worker's log) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{detail()}" if detail else ""
            raise WaitTimedOut(f"timed out after {timeout:g} s waiting for {what}{extra}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Processes --------------------------------------------------------------------------------


class ServiceProcess:
    """A program run in its own process group, its output going to a log file."""

    def __init__(self, name: str, args: list[str], *, log_path: Path,
                 env: dict[str, str] | None = None):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(  # noqa: S603 - our own fixed commands, never a shell
            args, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        text = self.output().splitlines()[-lines:]
        return f"--- last lines of {self.name} ({self.log_path}) ---\n" + "\n".join(text)

    def wait_for_output(self, text: str, *, timeout: float = 30.0) -> None:
        def seen():
            if text in self.output():
                return True
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode} before "
                                     f"printing {text!r}\n{self.tail()}")
            return False

        wait_until(seen, what=f"{self.name} to print {text!r}", timeout=timeout,
                   interval=0.1, detail=self.tail)

    def kill(self, sig: int = signal.SIGKILL, *, timeout: float = 10.0) -> None:
        """Send ``sig`` to the whole process group and wait for the leader to exit."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        self.popen.wait(timeout=timeout)

    def stop(self, *, grace: float = 0.0) -> None:
        """Stop, after ``grace`` seconds of SIGTERM if given, else at once with SIGKILL (the
        tests only need them gone); never leaves a process of the group behind."""
        if self.popen.poll() is None and grace:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.kill(signal.SIGTERM, timeout=grace)
        if self.popen.poll() is None:
            self.kill(signal.SIGKILL)
        # Children that outlived their parent (a prefork pool's, say).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._log.close()


def redis_server_missing() -> str | None:
    if shutil.which("redis-server") is None:
        return "needs the redis-server program on PATH (apt-get install redis-server)"
    return None


class RedisServer:
    """A redis-server of our own on a free port, with no persistence, that can be stopped and
    started again on the same port (an outage)."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.process: ServiceProcess | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.process = ServiceProcess(
            f"redis-server:{self.port}",
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            log_path=self.log_dir / f"redis-{self.port}-{self.starts}.log",
        )
        wait_until(self.answers_ping, what=f"redis-server on port {self.port} to answer PING",
                   timeout=10, detail=self.process.tail)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def pause(self) -> None:
        """Hang it (SIGSTOP): connections stay open and nothing answers."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def answers_ping(self) -> bool:
        try:
            with redis.Redis.from_url(self.url, socket_connect_timeout=0.5,
                                      socket_timeout=0.5) as client:
                return bool(client.ping())
        except (redis.RedisError, OSError):
            return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=2)

    def queued_task_messages(self, queue: str = "alerts") -> list[dict]:
        """The Celery messages waiting in ``queue`` (kombu's Redis transport keeps each as a
        JSON envelope in a list named after the queue), with their bodies decoded."""
        with self.client() as client:
            raw = client.lrange(queue, 0, -1)
        messages = []
        for item in raw:
            envelope = json.loads(item)
            envelope["raw"] = item.decode()
            body = envelope["body"]
            if envelope["properties"].get("body_encoding") == "base64":
                import base64

                body = base64.b64decode(body).decode()
            envelope["decoded_body"] = json.loads(body)
            messages.append(envelope)
        return messages


def celery_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "config", *args]


def start_worker(name: str, *, env: dict[str, str], log_dir: Path, wait: bool = True,
                 ready_timeout: float = 30.0) -> ServiceProcess:
    """A Celery worker as production runs it (prefork, one process, both queues), without
    the cluster chatter that only slows its start.  With ``wait``, returns once it is ready to
    take tasks."""
    worker = ServiceProcess(
        name,
        celery_command("worker", "-Q", "alerts,celery", "-c", "1", "--pool", "prefork",
                       "-l", "info", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
                       "--without-heartbeat"),
        env=env, log_path=log_dir / f"{name}.log",
    )
    if wait:
        worker.wait_for_output(" ready.", timeout=ready_timeout)
    return worker


BEAT_STARTED = "beat: Starting"


def start_beat(*, env: dict[str, str], log_dir: Path, wait: bool = True) -> ServiceProcess:
    """Celery beat; with ``wait``, returns once it has started (``BEAT_STARTED``)."""
    beat = ServiceProcess(
        "beat",
        celery_command("beat", "-l", "info", "-s", str(log_dir / "beat-schedule"),
                       "--pidfile="),
        env=env, log_path=log_dir / "beat.log",
    )
    if wait:
        beat.wait_for_output(BEAT_STARTED, timeout=30)
    return beat


def start_gunicorn(*, env: dict[str, str], log_dir: Path, workers: int = 2) -> tuple[
        ServiceProcess, str]:
    """The web application as production runs it (gunicorn, sync workers) on a free port;
    returns the process and its base URL once it answers /livez."""
    port = free_port()
    web = ServiceProcess(
        "gunicorn",
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--timeout", "60"],
        env=env, log_path=log_dir / "gunicorn.log",
    )
    base = f"http://127.0.0.1:{port}"

    def answers():
        import urllib.request

        try:
            with urllib.request.urlopen(f"{base}/livez", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            if web.popen.poll() is not None:
                raise AssertionError(f"gunicorn exited\n{web.tail()}") from None
            return False

    wait_until(answers, what="gunicorn to answer /livez", timeout=30, interval=0.2,
               detail=web.tail)
    return web, base


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_server_missing() -> str | None:
    for program in ("initdb", "postgres"):
        if shutil.which(program) is None:
            return f"needs the PostgreSQL server programs ({program}) on PATH"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root, and needs runuser to start PostgreSQL as another user"
    return None


class PostgresCluster:
    """A PostgreSQL cluster of the test's own, in a temporary directory, on a free port on
    loopback, with trust authentication: never the machine's server.  ``stop()`` is a fast
    shutdown (as ``pg_ctl stop -m fast``: clients are disconnected), ``start()`` brings it back
    on the same port with the same data.  PostgreSQL refuses to run as root, so under root it
    runs as the ``postgres`` user (``runuser``)."""

    def __init__(self, log_dir: Path):
        import pwd
        import tempfile

        self.port = free_port()
        self.log_dir = log_dir
        self.root = Path(tempfile.mkdtemp(prefix="test-pg-"))
        self.data = self.root / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.process: ServiceProcess | None = None
        self.starts = 0
        subprocess.run(  # noqa: S603 - a fixed command, never a shell
            [*self._as_user, "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
             "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=120)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self.starts += 1
        self.process = ServiceProcess(
            f"postgres:{self.port}",
            [*self._as_user, "postgres", "-D", str(self.data), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
             "-c", "fsync=off", "-c", "max_connections=50"],
            log_path=self.log_dir / f"postgres-{self.port}-{self.starts}.log",
        )
        wait_until(self.answers, what=f"PostgreSQL on port {self.port} to accept connections",
                   timeout=30, interval=0.1, detail=self.process.tail)

    def answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def execute(self, database: str, sql: str, *params) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params or None)
            return cursor.fetchall() if cursor.description else []

    def stop(self) -> None:
        """Fast shutdown: the postmaster disconnects every client and exits."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.popen.wait(timeout=30)
            self.process.stop()
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# --- SMTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    recipients: tuple[str, ...]
    message: email.message.EmailMessage
    raw: bytes
    received_at: float  # time.time() when the server accepted it

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


class SlowableSmtpHandler:
    """Accepts every message, unless held: while ``gate`` is closed, a message whose DATA has
    arrived waits in ``handle_DATA`` before the server answers 250.

    A message counts as received only once the server has answered 250.  If the client goes
    away while its message is held, aiosmtpd cancels the handler (``connection_lost`` and
    ``eof_received`` cancel the session's task), the message is counted as ``abandoned`` and
    never as received, as a real mail server drops a transaction the client never completed.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()
        self.delay = 0.0  # seconds to hold every message, even with the gate open
        self.received: list[ReceivedMail] = []
        self.entered = 0  # DATA transactions that reached the handler
        self.held = 0  # of those, waiting now
        self.abandoned = 0  # the client went away while its message was held

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.entered += 1
            self.held += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            while not self.gate.is_set():
                await asyncio.sleep(0.02)
        except asyncio.CancelledError:
            with self.lock:
                self.abandoned += 1
            raise
        finally:
            with self.lock:
                self.held -= 1
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self.lock:
            self.received.append(ReceivedMail(tuple(envelope.rcpt_tos), message, raw,
                                              time.time()))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on loopback, in a thread of this process."""

    def __init__(self, port: int | None = None):
        self.handler = SlowableSmtpHandler()
        self.port = port or free_port()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     ready_timeout=10)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[ReceivedMail]:
        with self.handler.lock:
            return list(self.handler.received)

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address in m.recipients]

    def hold(self) -> None:
        self.handler.gate.clear()

    def release(self) -> None:
        self.handler.gate.set()

    def wait_for_messages(self, count: int, *, timeout: float = 30.0,
                          detail: Callable[[], str] | None = None) -> list[ReceivedMail]:
        wait_until(lambda: len(self.messages) >= count, timeout=timeout, detail=detail,
                   what=f"{count} message(s) at the SMTP server (have {len(self.messages)})")
        return self.messages


# --- Webhooks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedHook:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """An HTTP server on loopback that answers 200 to every POST and keeps what it got."""

    received: list[ReceivedHook] = field(default_factory=list)

    def __post_init__(self):
        receiver = self
        lock = threading.Lock()
        self._lock = lock

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    receiver.received.append(ReceivedHook(self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format, *args):  # keep the test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    @property
    def hooks(self) -> list[ReceivedHook]:
        with self._lock:
            return list(self.received)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- SMS --------------------------------------------------------------------------------------


def twilio_request_signature(url: str, params: dict[str, str], token: str) -> str:
    """Twilio's X-Twilio-Signature over a callback, written out here from Twilio's description
    (not the service's code), so the tests check one against the other: base64 of HMAC-SHA1,
    keyed with the auth token, of the URL followed by every parameter's name and value in
    order of name."""
    import base64
    import hashlib
    import hmac

    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
                            ).decode()


@dataclass(frozen=True)
class ReceivedSms:
    sid: str
    account: str
    to: str
    sender: str
    body: str
    status_callback: str
    authorised: bool  # the request carried the account's SID and token (HTTP basic auth)
    received_at: float  # time.time() when the gateway answered 201


class SmsGateway:
    """A fake SMS provider: a real HTTP server on loopback speaking Twilio's Messages API
    (``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded ``To``, ``From``,
    ``Body``, ``StatusCallback``, basic auth ``SID:token``), answering 201 with the message's
    ``sid`` and keeping every message it accepted.

    ``fail_with(status, code=...)`` makes it answer the next ``times`` requests (or all, until
    ``fail_with(None)``) with that HTTP status and a Twilio-style error body.  ``send_receipt``
    POSTs a delivery receipt for a message to the status callback it named, signed like
    Twilio's; ``auto_receipt = "delivered"`` sends one for every message it accepts."""

    def __init__(self, *, account_sid: str = "AC" + "1" * 32, auth_token: str = "t" * 32):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.received: list[ReceivedSms] = []
        self.requests = 0  # every POST to the Messages endpoint, failed ones included
        self.receipts: list[tuple[str, str, int]] = []  # (sid, status, HTTP status answered)
        self.auto_receipt: str | None = None
        self._failures: list[tuple[int, int | None]] = []  # (HTTP status, Twilio code) each
        self._fail_always: tuple[int, int | None] | None = None
        self._lock = threading.Lock()
        self._count = 0
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                import base64
                from urllib.parse import parse_qs

                length = int(self.headers.get("Content-Length") or 0)
                form = {name: values[0] for name, values in
                        parse_qs(self.rfile.read(length).decode(), keep_blank_values=True).items()}
                parts = self.path.split("/")  # "", "2010-04-01", "Accounts", SID, "Messages.json"
                if len(parts) != 5 or parts[1:3] != ["2010-04-01", "Accounts"] or (
                        parts[4] != "Messages.json"):
                    return self._answer(404, {"code": 20404, "message": "not found",
                                              "status": 404})
                expected = "Basic " + base64.b64encode(
                    f"{gateway.account_sid}:{gateway.auth_token}".encode()).decode()
                authorised = self.headers.get("Authorization") == expected and (
                    parts[3] == gateway.account_sid)
                with gateway._lock:
                    gateway.requests += 1
                    failure = (gateway._failures.pop(0) if gateway._failures
                               else gateway._fail_always)
                if not authorised:
                    failure = (401, 20003)
                if failure is not None:
                    status, code = failure
                    return self._answer(status, {"code": code, "message": "refused by the test "
                                                 "gateway", "status": status})
                with gateway._lock:
                    gateway._count += 1
                    sid = f"SM{gateway._count:032x}"
                message = ReceivedSms(sid=sid, account=parts[3], to=form.get("To", ""),
                                      sender=form.get("From", ""), body=form.get("Body", ""),
                                      status_callback=form.get("StatusCallback", ""),
                                      authorised=authorised, received_at=time.time())
                with gateway._lock:
                    gateway.received.append(message)
                self._answer(201, {"sid": sid, "status": "queued", "to": message.to,
                                   "from": message.sender, "body": message.body,
                                   "account_sid": message.account})
                if gateway.auto_receipt and message.status_callback:
                    threading.Thread(target=gateway.send_receipt, daemon=True,
                                     args=(sid, gateway.auto_receipt)).start()

            def _answer(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.api_base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def settings(self, sender: str = "+15005550006") -> dict[str, str]:
        """The service's settings (environment) that point it at this gateway."""
        return {"SMS_API_BASE": self.api_base, "SMS_ACCOUNT_SID": self.account_sid,
                "SMS_AUTH_TOKEN": self.auth_token, "SMS_FROM": sender}

    def fail_with(self, status: int | None, *, code: int | None = None,
                  times: int | None = None) -> None:
        """Answer the next ``times`` messages (None: every one from now) with ``status``;
        ``fail_with(None)`` accepts again."""
        with self._lock:
            if times is None:
                self._fail_always = None if status is None else (status, code)
            else:
                self._failures.extend([(status, code)] * times)

    @property
    def messages(self) -> list[ReceivedSms]:
        with self._lock:
            return list(self.received)

    def wait_for_messages(self, count: int, *, timeout: float = 30.0,
                          detail: Callable[[], str] | None = None) -> list[ReceivedSms]:
        wait_until(lambda: len(self.messages) >= count, timeout=timeout, detail=detail,
                   what=f"{count} text message(s) at the SMS gateway (have "
                        f"{len(self.messages)})")
        return self.messages

    def send_receipt(self, sid: str, status: str, *, error_code: str | None = None,
                     token: str | None = None) -> int:
        """POST a delivery receipt for message ``sid`` to its status callback, signed with the
        auth token (or ``token``, to forge one); returns the HTTP status answered."""
        import urllib.error
        import urllib.parse
        import urllib.request

        [message] = [m for m in self.messages if m.sid == sid]
        params = {"MessageSid": sid, "SmsSid": sid, "AccountSid": self.account_sid,
                  "MessageStatus": status, "SmsStatus": status, "To": message.to,
                  "From": message.sender, "ApiVersion": "2010-04-01"}
        if error_code:
            params["ErrorCode"] = error_code
        signature = twilio_request_signature(message.status_callback, params,
                                             token or self.auth_token)
        request = urllib.request.Request(  # noqa: S310 - the service's own loopback URL
            message.status_callback, data=urllib.parse.urlencode(params).encode(),
            method="POST", headers={"X-Twilio-Signature": signature,
                                    "Content-Type": "application/x-www-form-urlencoded",
                                    "User-Agent": "TwilioProxy/1.1"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                answered = response.status
        except urllib.error.HTTPError as error:
            answered = error.code
        with self._lock:
            self.receipts.append((sid, status, answered))
        return answered

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
