"""Two-factor sign-in: available to clinicians and admins, and once on, required everywhere."""

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

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
    response = client.post("/accounts/login/", login)
    assert response.status_code == 200
    assert b"Enter the 6-digit code" in response.content
    response = client.post("/accounts/login/", {**login, "otp_token": "123456"})
    assert b"That code is not right" in response.content
    forgive_failures(device)
    response = client.post("/accounts/login/", {**login, "otp_token": current_code(device)})
    assert response.status_code == 302 and response["Location"] == "/queue/"


def test_without_two_factor_the_password_is_enough(client, clinician):
    response = client.post("/accounts/login/", {"username": "clinician",
                                                "password": "clinician-password"})
    assert response.status_code == 302


def test_the_api_token_needs_the_code_too(client, clinician):
    client.force_login(clinician)
    device = turn_on(client, clinician)
    api = APIClient()
    body = {"username": "clinician", "password": "clinician-password"}
    response = api.post("/api/auth/token/", body, format="json")
    assert response.status_code == 400 and "otp_token" in response.json()
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
    assert response.status_code == 200 and b"Enter the 6-digit code" in response.content
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
