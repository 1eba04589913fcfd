"""Two-factor sign-in: available to clinicians and admins, and once on, required everywhere."""

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from core.two_factor import WRONG_CREDENTIALS

pytestmark = pytest.mark.django_db


def current_code(device) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def forgive_failures(device):
    """django-otp slows down guessing (after a wrong code the next try must wait) and accepts
    each code once.  Tests that try several codes within one 30-second step clear both rather
    than sleep."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None, last_t=-1)
    device.refresh_from_db()


def turn_on(client, user) -> TOTPDevice:
    page = client.get("/accounts/two-factor/")
    assert page.status_code == 200 and b"is <strong>off</strong>" in page.content
    assert b"data:image/svg+xml" in page.content, "a QR code to scan"
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.post("/accounts/two-factor/", {"code": "000000"}).status_code == 400
    forgive_failures(device)
    response = client.post("/accounts/two-factor/", {"code": current_code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_a_clinician_turns_it_on_and_then_needs_a_code_to_sign_in(client, clinician):
    client.force_login(clinician)
    device = turn_on(client, clinician)
    client.logout()
    forgive_failures(device)
    login = {"username": "clinician", "password": "clinician-password"}
    wrong_password = client.post("/accounts/login/", {**login, "password": "not-it"})
    no_code = client.post("/accounts/login/", login)
    forgive_failures(device)
    wrong_code = client.post("/accounts/login/", {**login, "otp_token": "123456"})
    # The same page whether the password or the code was wrong: nothing tells a guesser that
    # the password was right.
    assert {r.status_code for r in (wrong_password, no_code, wrong_code)} == {200}
    assert errors(wrong_password) == errors(no_code) == errors(wrong_code) == [WRONG_CREDENTIALS]
    forgive_failures(device)
    response = client.post("/accounts/login/", {**login, "otp_token": current_code(device)})
    assert response.status_code == 302 and response["Location"] == "/queue/"


def test_without_two_factor_the_password_is_enough(client, clinician):
    response = client.post("/accounts/login/", {"username": "clinician",
                                                "password": "clinician-password"})
    assert response.status_code == 302


def errors(response) -> list[str]:
    return [str(e) for e in response.context["form"].non_field_errors()]


def test_the_api_token_needs_the_code_too(client, clinician):
    client.force_login(clinician)
    device = turn_on(client, clinician)
    api = APIClient()
    body = {"username": "clinician", "password": "clinician-password"}
    response = api.post("/api/auth/token/", body, format="json")
    wrong_password = api.post("/api/auth/token/", {**body, "password": "x"}, format="json")
    assert response.status_code == wrong_password.status_code == 400
    assert response.json() == wrong_password.json() == {"non_field_errors": [WRONG_CREDENTIALS]}
    forgive_failures(device)
    response = api.post("/api/auth/token/", {**body, "otp_token": current_code(device)},
                        format="json")
    assert response.status_code == 200 and response.json()["token"]


def test_an_admin_needs_the_code_at_the_admin_login(client, admin_user):
    client.force_login(admin_user)
    device = turn_on(client, admin_user)
    client.logout()
    login = {"username": admin_user.username, "password": "password"}
    response = client.post("/admin/login/", login)
    assert response.status_code == 200 and errors(response) == [WRONG_CREDENTIALS]
    forgive_failures(device)
    response = client.post("/admin/login/", {**login, "otp_token": current_code(device)})
    assert response.status_code == 302


def test_turning_it_off_needs_a_current_code(client, clinician):
    client.force_login(clinician)
    device = turn_on(client, clinician)
    assert client.post("/accounts/two-factor/", {"code": "999999"}).status_code == 400
    assert TOTPDevice.objects.filter(user=clinician, confirmed=True).exists()
    forgive_failures(device)
    assert client.post("/accounts/two-factor/", {"code": current_code(device)}).status_code \
        == 302
    assert not TOTPDevice.objects.filter(user=clinician).exists()


def test_wrong_codes_count_towards_the_lock_out_like_wrong_passwords(client, clinician):
    client.force_login(clinician)
    device = turn_on(client, clinician)
    client.logout()
    login = {"username": "clinician", "password": "clinician-password"}
    statuses = []
    for _ in range(5):
        forgive_failures(device)
        statuses.append(client.post("/accounts/login/", {**login, "otp_token": "000000"})
                        .status_code)
    assert statuses == [200, 200, 200, 200, 429]
    forgive_failures(device)
    locked = client.post("/accounts/login/", {**login, "otp_token": current_code(device)})
    assert locked.status_code == 429, "locked even with the right password and code"


def test_with_two_factor_required_staff_must_set_it_up_before_anything_else(
        client, admin_user, clinician, settings):
    settings.REQUIRE_2FA = True
    client.force_login(admin_user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == "/accounts/two-factor/"
    assert client.get("/api/queue/").status_code == 403
    turn_on(client, admin_user)  # the set-up page itself is open to them
    assert client.get("/admin/").status_code == 200
    # Clinicians who are not staff are not required to.
    client.force_login(clinician)
    assert client.get("/queue/").status_code == 200
