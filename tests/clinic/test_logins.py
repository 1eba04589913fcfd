"""API tokens for clinicians and admins (expiring, hashed, revocable), and lock-out after
repeated wrong passwords, by username *and* the client's address."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.test import APIClient

from core.two_factor import WRONG_CREDENTIALS

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/auth/token/"


def token_for(username, password, address="198.51.100.20"):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password},
                            format="json", REMOTE_ADDR=address)


def test_a_clinician_exchanges_a_password_for_a_token_that_opens_the_queue(clinician):
    response = token_for("clinician", "clinician-password")
    assert response.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    assert client.get("/api/queue/").status_code == 200
    expiry = datetime.datetime.fromisoformat(response.json()["expiry"])
    assert datetime.timedelta(hours=9) < expiry - timezone.now() <= datetime.timedelta(hours=10)


def signed_in(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_tokens_are_stored_only_as_hashes(clinician):
    token = token_for("clinician", "clinician-password").json()["token"]
    stored = AuthToken.objects.get(user=clinician)
    assert token not in (stored.digest, stored.token_key)
    assert not AuthToken.objects.filter(digest__contains=token).exists()


def test_a_client_revokes_its_own_token_and_only_that_one(clinician):
    first, second = (token_for("clinician", "clinician-password").json()["token"]
                     for _ in range(2))
    assert signed_in(first).post("/api/auth/token/revoke/").status_code == 204
    assert signed_in(first).get("/api/queue/").status_code == 401
    assert signed_in(second).get("/api/queue/").status_code == 200


def test_a_token_stops_working_when_it_expires(clinician):
    token = token_for("clinician", "clinician-password").json()["token"]
    AuthToken.objects.filter(user=clinician).update(
        expiry=timezone.now() - datetime.timedelta(seconds=1))
    assert signed_in(token).get("/api/queue/").status_code == 401


def test_a_token_its_user_and_the_clinician_check_are_one_query(clinician):
    token = token_for("clinician", "clinician-password").json()["token"]
    client = signed_in(token)
    client.get("/api/queue/")  # the first request in a process compiles the queue's read
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/queue/").status_code == 200
    statements = [query["sql"] for query in queries]
    assert 'FROM "knox_authtoken"' in statements[0] and '"auth_group"' in statements[0]
    # Neither knox's read of every token of the user nor a separate group check.
    assert not any('"knox_authtoken"' in sql or '"auth_group"' in sql
                   for sql in statements[1:]), statements


def test_a_user_who_left_the_clinicians_group_is_refused_with_a_valid_token(clinician):
    token = token_for("clinician", "clinician-password").json()["token"]
    clinician.groups.clear()
    response = signed_in(token).get("/api/queue/")
    assert response.status_code == 401
    assert "may no longer use API tokens" in response.json()["detail"]


def test_a_wrong_token_with_a_known_key_is_refused(clinician):
    token = token_for("clinician", "clinician-password").json()["token"]
    forged = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    assert signed_in(forged).get("/api/queue/").status_code == 401


@pytest.mark.parametrize("token", ["\x00" * 20, "abc\x00def", "é" * 70, "x"])
def test_a_malformed_token_is_refused_not_an_error(clinician, token):
    response = APIClient().get("/api/queue/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_issuing_a_token_deletes_the_users_expired_ones(clinician):
    old = token_for("clinician", "clinician-password").json()["token"]
    AuthToken.objects.filter(user=clinician).update(
        expiry=timezone.now() - datetime.timedelta(seconds=1))
    new = token_for("clinician", "clinician-password").json()["token"]
    assert AuthToken.objects.filter(user=clinician).count() == 1
    assert signed_in(old).get("/api/queue/").status_code == 401
    assert signed_in(new).get("/api/queue/").status_code == 200


def test_changing_the_password_revokes_every_token(clinician):
    tokens = [token_for("clinician", "clinician-password").json()["token"] for _ in range(2)]
    clinician.set_password("a-new-clinician-password")
    clinician.save()
    assert [signed_in(t).get("/api/queue/").status_code for t in tokens] == [401, 401]
    assert not AuthToken.objects.filter(user=clinician).exists()


def test_deactivating_the_account_revokes_its_tokens(clinician):
    token = token_for("clinician", "clinician-password").json()["token"]
    clinician.is_active = False
    clinician.save()
    assert not AuthToken.objects.filter(user=clinician).exists()
    assert signed_in(token).get("/api/queue/").status_code == 401


def test_turning_two_factor_on_or_off_revokes_tokens_but_using_it_does_not(clinician):
    token = token_for("clinician", "clinician-password").json()["token"]
    device = TOTPDevice.objects.create(user=clinician, name="app", confirmed=False)
    assert signed_in(token).get("/api/queue/").status_code == 200, "not on until confirmed"
    device.confirmed = True
    device.save()
    assert signed_in(token).get("/api/queue/").status_code == 401
    AuthToken.objects.create(user=clinician)
    device.verify_token("000000")  # a code checked (and saved) changes nothing
    assert AuthToken.objects.filter(user=clinician).count() == 1
    device.delete()
    assert not AuthToken.objects.filter(user=clinician).exists()


def test_taking_someone_out_of_the_clinicians_ends_their_tokens(clinician):
    token = token_for("clinician", "clinician-password").json()["token"]
    clinician.groups.clear()
    response = signed_in(token).get("/api/queue/")
    assert response.status_code == 401


def test_a_wrong_password_is_400_and_says_so(clinician):
    response = token_for("clinician", "wrong")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [WRONG_CREDENTIALS]}


def test_people_who_are_not_clinicians_or_admins_get_no_token(django_user_model, staff_admin):
    django_user_model.objects.create_user("patient", password="a-long-password-1")
    assert token_for("patient", "a-long-password-1").status_code == 403
    assert token_for("staff-admin", "staff-admin-password").status_code == 403
    assert not AuthToken.objects.exists()


def test_with_two_factor_required_an_admin_without_it_gets_no_token(admin_user, settings):
    settings.REQUIRE_2FA = True
    response = token_for(admin_user.username, "password")
    assert response.status_code == 403 and "two-factor" in response.json()["detail"]
    settings.REQUIRE_2FA = False
    assert token_for(admin_user.username, "password").status_code == 200


@pytest.mark.parametrize("body", [[], "x", {"username": "clinician"}, {"password": "p"}])
def test_malformed_token_requests_are_named(clinician, body):
    response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400


def test_repeated_failures_lock_the_username_out_even_with_the_right_password(clinician):
    statuses = [token_for("clinician", "guess").status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429], "the fifth failure locks"
    locked = token_for("clinician", "clinician-password")
    assert locked.status_code == 429
    assert "locked" in locked.json()["detail"]
    # The same username from another address, and other users, are not locked.
    assert token_for("clinician", "clinician-password", address="198.51.100.99").status_code \
        == 200


def test_behind_the_proxy_a_stranger_cannot_lock_the_clinician_out(clinician, settings):
    """Every request arrives from the proxy; the lock-out is keyed on the client's address as
    the proxy saw it, so a stranger's failures lock only the stranger."""
    settings.NUM_PROXIES = 1

    def via_proxy(password, client_address):
        return APIClient().post(TOKEN_URL, {"username": "clinician", "password": password},
                                format="json", REMOTE_ADDR="10.0.0.2",
                                HTTP_X_FORWARDED_FOR=client_address)

    assert [via_proxy("guess", "203.0.113.66").status_code for _ in range(5)] == \
        [400, 400, 400, 400, 429]
    assert via_proxy("clinician-password", "203.0.113.66").status_code == 429
    assert via_proxy("clinician-password", "198.51.100.20").status_code == 200
    client = APIClient()
    page = client.post("/accounts/login/", {"username": "clinician",
                                            "password": "clinician-password"},
                       REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert page.status_code == 302


def test_the_login_page_locks_out_after_repeated_failures(client, clinician):
    statuses = [client.post("/accounts/login/", {"username": "clinician", "password": "x"})
                .status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the form again with an error, then locked
    response = client.post("/accounts/login/", {"username": "clinician",
                                                "password": "clinician-password"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_clinician_signs_in_and_lands_on_the_queue(client, clinician):
    response = client.post("/accounts/login/", {"username": "clinician",
                                                "password": "clinician-password"})
    assert response.status_code == 302 and response["Location"] == "/queue/"
    assert client.get("/queue/").status_code == 200
