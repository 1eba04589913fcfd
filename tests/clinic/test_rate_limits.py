"""Rate limits per client address: the patient form like the API, the sign-in and reset pages,
one address resolver behind trusted proxies, and a cache outage that never refuses a patient.

"The cache is down" here is real: the cache points at a port on loopback where nothing listens
(a Redis that has stopped), so every call to it fails as it would in production.
"""

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.test import RequestFactory
from rest_framework.test import APIClient

from core.throttling import PasswordResetThrottle, SignInThrottle, SubmissionThrottle
from intake.models import Submission
from support.real_services import free_port
from tests.factories import PATIENT, ROUTINE, send_form

pytestmark = pytest.mark.django_db

BODY = json.dumps({"patient": PATIENT, "answers": ROUTINE})


@pytest.fixture
def rates(monkeypatch):
    """Small limits, so a test reaches them in a few requests."""
    def set_rates(**rates):
        for throttle in (SubmissionThrottle, SignInThrottle, PasswordResetThrottle):
            monkeypatch.setattr(throttle, "THROTTLE_RATES", {
                "submissions": "1000/hour", "sign_in": "1000/hour",
                "password_reset": "1000/hour", **rates})
    return set_rates


@pytest.fixture
def cache_down(settings):
    """The shared cache is a Redis that does not answer."""
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}}}


def api_post(client, address, **headers):
    return client.post("/api/submissions/", data=BODY, content_type="application/json",
                       REMOTE_ADDR=address, headers=headers)


def form_post(client, address, **headers):
    """The patient's form, filled in page by page and sent, from ``address``."""
    return send_form(client, REMOTE_ADDR=address, headers=headers)


# --- The patient form -----------------------------------------------------------------------


def test_the_patient_form_is_throttled_per_address_and_tells_the_patient_what_to_do(
        client, rates):
    rates(submissions="3/hour")
    statuses = [form_post(client, "198.51.100.7").status_code for n in range(4)]
    assert statuses == [302, 302, 302, 429]
    refused = form_post(client, "198.51.100.7")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    page = refused.content.decode()
    assert "call 999 now" in page and "was not sent" in page
    assert Submission.objects.count() == 3
    assert form_post(client, "198.51.100.8").status_code == 302


def test_the_form_and_the_api_share_one_limit_per_address(client, rates):
    rates(submissions="2/hour")
    assert form_post(client, "198.51.100.7").status_code == 302
    assert api_post(client, "198.51.100.7").status_code == 201
    assert api_post(client, "198.51.100.7").status_code == 429
    assert form_post(client, "198.51.100.7").status_code == 429


# --- One address resolver, behind trusted proxies --------------------------------------------


def test_behind_a_trusted_proxy_the_limit_is_per_client_not_per_proxy(client, rates, settings):
    settings.NUM_PROXIES = 1
    rates(submissions="1/hour")
    proxy = "10.0.0.2"
    assert api_post(client, proxy, **{"X-Forwarded-For": "203.0.113.1"}).status_code == 201
    assert api_post(client, proxy, **{"X-Forwarded-For": "203.0.113.2"}).status_code == 201
    # What the client wrote before the proxy's entry is not trusted: still 203.0.113.1.
    assert api_post(client, proxy, **{"X-Forwarded-For": "1.2.3.4, 203.0.113.1"}
                    ).status_code == 429
    assert form_post(client, proxy, **{"X-Forwarded-For": "203.0.113.2"}
                     ).status_code == 429


def test_without_trusted_proxies_a_forged_forwarded_header_changes_nothing(client, rates):
    rates(submissions="1/hour")
    assert api_post(client, "198.51.100.7", **{"X-Forwarded-For": "203.0.113.1"}
                    ).status_code == 201
    assert api_post(client, "198.51.100.7", **{"X-Forwarded-For": "203.0.113.2"}
                    ).status_code == 429


# --- Sign-in and password reset ----------------------------------------------------------------


def test_one_address_cannot_try_password_after_password_on_many_usernames(client, rates):
    rates(sign_in="5/hour")
    statuses = [client.post("/accounts/login/", {"username": f"user{n}", "password": "x"},
                            REMOTE_ADDR="198.51.100.7").status_code for n in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    assert client.post("/admin/login/", {"username": "other", "password": "x"},
                       REMOTE_ADDR="198.51.100.7").status_code == 429
    token = APIClient().post("/api/auth/token/", {"username": "user9", "password": "x"},
                             format="json", REMOTE_ADDR="198.51.100.7")
    assert token.status_code == 429 and "Retry-After" in token
    # Another address is not affected, and showing the form is never limited.
    assert client.post("/accounts/login/", {"username": "user1", "password": "x"},
                       REMOTE_ADDR="198.51.100.8").status_code == 200
    assert client.get("/accounts/login/", REMOTE_ADDR="198.51.100.7").status_code == 200


def test_password_reset_mail_is_limited_per_address(client, rates, clinician, mailoutbox):
    rates(password_reset="2/hour")
    statuses = [client.post("/accounts/password_reset/", {"email": "clinician@example.org"},
                            REMOTE_ADDR="198.51.100.7").status_code for _ in range(4)]
    assert statuses == [302, 302, 429, 429]
    assert len(mailoutbox) == 2


# --- The cache is down -------------------------------------------------------------------------


def test_with_the_cache_down_every_entry_point_still_takes_intakes(client, cache_down, caplog):
    with caplog.at_level(logging.WARNING, logger="core.throttling"):
        assert api_post(client, "198.51.100.7").status_code == 201
        assert form_post(client, "198.51.100.7").status_code == 302
        fhir = client.generic("POST", "/api/fhir/QuestionnaireResponse", data="{}",
                              content_type="application/fhir+json", REMOTE_ADDR="198.51.100.7")
        assert fhir.status_code == 400  # reached validation: the throttle let it through
    assert Submission.objects.count() == 2
    assert "the shared cache does not answer" in caplog.text


def test_with_the_cache_down_the_limit_is_kept_in_the_process(client, cache_down, rates):
    rates(submissions="2/hour")
    assert [api_post(client, "198.51.100.7").status_code for _ in range(3)] == [201, 201, 429]
    assert api_post(client, "198.51.100.8").status_code == 201


def test_with_the_cache_down_clinicians_can_still_get_a_token(cache_down, clinician):
    response = APIClient().post("/api/auth/token/", {"username": "clinician",
                                                     "password": "clinician-password"},
                                format="json")
    assert response.status_code == 200, response.content


# --- The shared count in Redis ----------------------------------------------------------------


@pytest.fixture
def redis_cache(settings, redis_url):
    settings.CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url,
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}}}
    return redis.Redis.from_url(redis_url)


@pytest.mark.redis
def test_the_shared_count_is_one_window_per_address_in_redis(client, rates, redis_cache):
    rates(submissions="3/hour")
    statuses = [api_post(client, "198.51.100.7").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    refused = api_post(client, "198.51.100.7")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert api_post(client, "198.51.100.8").status_code == 201  # another address
    [key] = [k for k in redis_cache.keys("*") if b"198.51.100.7" in k]
    assert redis_cache.type(key) == b"zset"
    assert redis_cache.zcard(key) == 3  # refusals are not counted
    assert 3500 < redis_cache.pttl(key) / 1000 <= 3600


@pytest.mark.redis
def test_requests_at_the_same_moment_cannot_pass_the_limit_together(rates, redis_cache):
    """Checked and counted in one script: of twelve requests at once with room for five, five
    pass (DRF's read-then-write lets requests that read together all pass)."""
    rates(submissions="5/hour")
    request = RequestFactory().post("/api/submissions/", REMOTE_ADDR="198.51.100.9")
    start = threading.Barrier(12)

    def attempt(_):
        start.wait()
        return SubmissionThrottle().allow_request(request, None)

    with ThreadPoolExecutor(max_workers=12) as pool:
        allowed = list(pool.map(attempt, range(12)))
    assert allowed.count(True) == 5


@pytest.mark.redis
def test_the_count_goes_on_when_redis_has_forgotten_the_script(client, rates, redis_cache):
    """The script is sent by its SHA; a Redis restarted or flushed since is sent it again."""
    rates(submissions="2/hour")
    assert api_post(client, "198.51.100.10").status_code == 201
    redis_cache.script_flush()
    assert api_post(client, "198.51.100.10").status_code == 201
    assert api_post(client, "198.51.100.10").status_code == 429
