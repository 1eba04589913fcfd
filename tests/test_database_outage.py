"""PostgreSQL stops while the service is running: every entry point answers a prompt 503 with
Retry-After (never a 500, never a hang), nothing accepted is lost, and when PostgreSQL returns
the same web processes take intakes again without a restart.

Real parts: a PostgreSQL cluster the test makes and stops itself (on a free port in a temporary
directory, never the machine's server) and the web application under gunicorn.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
import uuid
from http.cookiejar import CookieJar
from urllib.parse import urlencode

import pytest

from support.real_services import (
    PROJECT_ROOT,
    PostgresCluster,
    postgres_server_missing,
    start_gunicorn,
)
from tests.conftest import require_service
from tests.factories import PATIENT, ROUTINE, about_you, form_data

pytestmark = pytest.mark.e2e

# A request with the database down waits at most DATABASE_POOL_TIMEOUT (1 s here) for a
# connection; the bound leaves room for a slow machine, not for a hang.
OUTAGE_ANSWER_BOUND_SECONDS = 4
LEAD_PASSWORD = "a-lead-clinician-password"
# After PostgreSQL returns, each web worker's pool reconnects within a few seconds (its
# reconnection attempts give up after 3 s, and the next request starts a fresh one).
RECOVERY_BOUND_SECONDS = 15


def retry_until(send, status: int, timeout: float = RECOVERY_BOUND_SECONDS):
    """Send again (as a client told Retry-After would, but sooner) until ``status`` comes back;
    every answer meanwhile must be a 503, never a 500."""
    deadline = time.monotonic() + timeout
    while True:
        answer = send()
        if answer[0] == status:
            return answer
        assert answer[0] == 503, f"{answer[0]} {answer[2][:300]}"
        assert time.monotonic() < deadline, f"still {answer[0]} after {timeout} s"
        time.sleep(0.2)


@pytest.fixture
def cluster(tmp_path):
    require_service(postgres_server_missing())
    logs = tmp_path / "logs"
    logs.mkdir()
    cluster = PostgresCluster(logs)
    cluster.start()
    cluster.execute("postgres", "CREATE DATABASE clinic")
    yield cluster
    cluster.remove()


@pytest.fixture
def web(cluster, tmp_path):
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_", "REDIS_", "EMAIL_"))}
    env.update({"DATABASE_URL": cluster.url("clinic"), "DATABASE_POOL_TIMEOUT": "1",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SETTINGS_MODULE": "config.settings",
                "PYTHONUNBUFFERED": "1"})
    for command in (["migrate", "--noinput"], ["createsuperuser", "--noinput"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=PROJECT_ROOT, check=True,
                       capture_output=True, timeout=300,
                       env={**env, "DJANGO_SUPERUSER_USERNAME": "lead",
                            "DJANGO_SUPERUSER_PASSWORD": LEAD_PASSWORD,
                            "DJANGO_SUPERUSER_EMAIL": "lead@clinic.test"})
    process, base = start_gunicorn(env=env, log_dir=tmp_path / "logs")
    yield process, base
    process.stop(grace=5)


class Browser:
    """urllib with a cookie jar: a patient's browser, without JavaScript."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirects())

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None):
        request = urllib.request.Request(  # noqa: S310 - http on loopback
            self.base + path, data=body, method=method, headers=headers or {})
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=30) as response:
                status, got, content = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, got, content = error.code, error.headers, error.read()
        return status, got, content.decode(errors="replace"), time.monotonic() - started

    def submit(self, key: str | None = None):
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Idempotency-Key"] = key
        body = json.dumps({"patient": PATIENT, "answers": ROUTINE}).encode()
        return self.request("POST", "/api/submissions/", body, headers)

    def fill_form(self) -> str:
        """Fill in the patient's form page by page up to "Check your answers"; the CSRF token
        its pages carry."""
        status, _, page, _ = self.request("GET", "/")
        assert status == 200, page
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        path, data = "/", about_you()
        while path != "/check/":
            status, headers, page, _ = self.post_form(path, {**data, "csrfmiddlewaretoken": csrf})
            assert status == 302, page
            path, data = headers["Location"], form_data()
        return csrf

    def send_form(self, csrf: str):
        """Press "Send my answers" on "Check your answers"."""
        return self.post_form("/check/", {"csrfmiddlewaretoken": csrf})

    def post_form(self, path: str, data: dict):
        return self.request("POST", path, urlencode(data, doseq=True).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded",
                             "Referer": self.base + path})

    def sign_in(self, username: str, password: str) -> None:
        _, _, page, _ = self.request("GET", "/accounts/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, _, page, _ = self.request(
            "POST", "/accounts/login/",
            urlencode({"username": username, "password": password,
                       "csrfmiddlewaretoken": csrf}).encode(),
            {"Content-Type": "application/x-www-form-urlencoded",
             "Referer": self.base + "/accounts/login/"})
        assert status == 302, page

    def fhir_post(self):
        return self.request("POST", "/api/fhir/QuestionnaireResponse", b"{}",
                            {"Content-Type": "application/fhir+json"})


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def stored_references(cluster) -> set[str]:
    return {row[0] for row in cluster.execute("clinic", "SELECT reference FROM "
                                              "intake_submission")}


def test_postgresql_down_gives_prompt_503s_loses_nothing_and_recovers_without_restart(
        cluster, web):
    process, base = web
    patient = Browser(base)
    accepted = set()

    status, _, body, _ = patient.submit()
    assert status == 201, body
    accepted.add(json.loads(body)["reference"])
    csrf = patient.fill_form()  # the patient reached "Check your answers" before the outage
    clinician = Browser(base)
    clinician.sign_in("lead", LEAD_PASSWORD)
    assert clinician.request("GET", "/queue/")[0] == 200

    cluster.stop()
    retried_key = str(uuid.uuid4())
    answers = {
        "POST /api/submissions/": patient.submit(retried_key),
        "POST /check/ (sending the patient form)": patient.send_form(csrf),
        "GET / (the patient form)": patient.request("GET", "/"),
        "POST /api/fhir/QuestionnaireResponse": patient.fhir_post(),
        "GET /api/questionnaires/current/": patient.request("GET",
                                                            "/api/questionnaires/current/"),
        "GET /queue/ (signed in)": clinician.request("GET", "/queue/"),
        "GET /api/queue/": patient.request("GET", "/api/queue/",
                                           headers={"Authorization": "Token abc"}),
        "POST /accounts/login/": patient.request(
            "POST", "/accounts/login/",
            urlencode({"username": "lead", "password": LEAD_PASSWORD,
                       "csrfmiddlewaretoken": csrf}).encode(),
            {"Content-Type": "application/x-www-form-urlencoded",
             "Referer": base + "/accounts/login/"}),
        "GET /healthz": patient.request("GET", "/healthz"),
    }
    timings = {what: round(answer[3], 2) for what, answer in answers.items()}
    print(f"\nwith PostgreSQL down, seconds to answer: {timings}")
    for what, (status, headers, body, seconds) in answers.items():
        assert status == 503, f"{what}: {status} {body[:300]}"
        assert seconds < OUTAGE_ANSWER_BOUND_SECONDS, f"{what} took {seconds:.1f} s"
        if what != "GET /healthz":
            assert int(headers["Retry-After"]) > 0, what
    # What each kind of client reads: JSON, a FHIR OperationOutcome, a page for the patient.
    assert "database" in json.loads(answers["POST /api/submissions/"][2])["detail"]
    outcome = json.loads(answers["POST /api/fhir/QuestionnaireResponse"][2])
    assert outcome["resourceType"] == "OperationOutcome"
    assert answers["POST /api/fhir/QuestionnaireResponse"][1]["Content-Type"].startswith(
        "application/fhir+json")
    for page in ("POST /check/ (sending the patient form)", "GET / (the patient form)"):
        assert "call 999 now" in answers[page][2]
        assert "Nothing you entered has been saved" in answers[page][2]
    assert json.loads(answers["GET /healthz"][2])["database"] == "down"
    assert "Internal Server Error" not in process.output()

    cluster.start()  # the same port and data; gunicorn is not restarted
    restarted = time.monotonic()
    pids_before = process.pid
    # The client retries as it was told; both web workers' pools reconnect on their own.
    status, _, body, _ = retry_until(lambda: patient.submit(retried_key), 201)
    accepted.add(json.loads(body)["reference"])
    status, headers, body, _ = retry_until(lambda: patient.send_form(csrf), 302)
    assert headers["Location"] == "/advice/"
    recovered = time.monotonic() - restarted
    print(f"recovered {recovered:.1f} s after PostgreSQL accepted connections again")
    assert recovered < RECOVERY_BOUND_SECONDS
    # Every worker's pool reconnects on its own, within the same bound: six submissions in a
    # row succeed.  (The two workers take requests from one socket, so the ones above may all
    # have gone to one of them; the other may still answer a prompt 503 until its pool has
    # reconnected, and nothing it refused is stored.)  Only then is every request answered.
    in_a_row = refused = 0
    while in_a_row < 6:
        status, _, body, _ = patient.submit()
        if status == 201:
            in_a_row += 1
            accepted.add(json.loads(body)["reference"])
        else:
            assert status == 503, body
            in_a_row, refused = 0, refused + 1
            time.sleep(0.2)
        assert time.monotonic() - restarted < RECOVERY_BOUND_SECONDS, "a worker did not recover"
    print(f"every worker answered {time.monotonic() - restarted:.1f} s after; {refused} refused")
    status, _, body, _ = patient.submit(retried_key)  # the same key again: the same answer
    assert status == 201 and json.loads(body)["reference"] in accepted
    status, _, body, _ = patient.request("GET", "/healthz")
    assert status in (200, 503) and json.loads(body)["database"] == "ok"
    assert process.pid == pids_before and process.popen.poll() is None

    stored = stored_references(cluster)
    assert accepted <= stored, "every accepted submission is stored"
    assert len(stored) == len(accepted) + 1  # + the form's, whose reference is in the session
