"""API tokens for clinic staff, and lock-out after repeated wrong passwords."""

import pytest
from rest_framework.test import APIClient

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
    assert token_for("clinician", "clinician-password").json() == response.json()


def test_a_wrong_password_is_400_and_says_so(clinician):
    response = token_for("clinician", "wrong")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Wrong username or password."]}


def test_people_who_are_not_clinic_staff_get_no_token(django_user_model):
    django_user_model.objects.create_user("patient", password="a-long-password-1")
    assert token_for("patient", "a-long-password-1").status_code == 403


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
