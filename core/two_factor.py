"""Two-factor sign-in for clinicians and admins (time-based one-time codes, django-otp).

Any clinician or admin can turn it on at /accounts/two-factor/ with an authenticator app; with
``DJANGO_REQUIRE_2FA`` (the default wherever debug is off) staff and superusers must, and are
sent there until they have.  Once on, every way of signing in asks for the current code as well
as the password: the clinicians' login page, the admin's, and the API token endpoint.

A wrong or missing code is answered exactly like a wrong password (the answer must not tell a
guesser that the password was right), and counts as a failed sign-in for django-axes' lock-out.
"""

import base64

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import user_login_failed
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.http import API_PREFIX
from core.roles import is_clinician

DEVICE_NAME = "Authenticator app"

# One answer for a wrong username, password or code, on every sign-in path.
WRONG_CREDENTIALS = ("Wrong username, password or code. If you have turned on two-factor "
                     "sign-in, enter the current code from your authenticator app as well.")


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def check_code(user, code: str) -> TOTPDevice | None:
    """The user's device if ``code`` is its current code, else None."""
    device = confirmed_device(user)
    code = (code or "").replace(" ", "")
    if device is None or not code.isdigit() or not device.verify_token(code):
        return None
    return device


def second_factor_passes(request, user, code: str) -> bool:
    """After a right password: True if the user needs no code or ``code`` is right (and then
    the device is remembered for the session).  A wrong or missing code is reported to
    django-axes as a failed sign-in for this username, as a wrong password would be."""
    if confirmed_device(user) is None:
        return True
    device = check_code(user, code)
    if device is None:
        user_login_failed.send(sender=__name__, request=request,
                               credentials={"username": user.get_username()})
        return False
    if request is not None and hasattr(request, "session"):
        otp_login(request, device)
    return True


def must_set_up_two_factor(user) -> bool:
    """Staff and superusers without a confirmed device, when DJANGO_REQUIRE_2FA is on."""
    return (settings.REQUIRE_2FA and (user.is_staff or user.is_superuser)
            and confirmed_device(user) is None)


class SecondFactorMixin(forms.Form):
    """Adds the authenticator code to a sign-in form; required once the user has turned it on.
    Every failure shows the same message (``WRONG_CREDENTIALS``)."""

    otp_token = forms.CharField(
        label="Code from your authenticator app", required=False, max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Only if you have turned on two-factor sign-in.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_messages = {**self.error_messages, "invalid_login": WRONG_CREDENTIALS}

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not second_factor_passes(self.request, user, self.cleaned_data.get("otp_token", "")):
            raise self.get_invalid_login_error()


class TwoFactorAuthenticationForm(SecondFactorMixin, AuthenticationForm):
    pass


class AdminTwoFactorAuthenticationForm(SecondFactorMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    form_class = TwoFactorAuthenticationForm


class TwoFactorRequiredMiddleware:
    """With DJANGO_REQUIRE_2FA, a signed-in staff member or superuser who has not set up
    two-factor sign-in can only do that (or sign out): pages redirect to the set-up page, the
    API answers 403 saying so."""

    ALLOWED = ("/accounts/two-factor/", "/accounts/logout/", "/static/", "/livez", "/healthz")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if (settings.REQUIRE_2FA and user.is_authenticated
                and not request.path.startswith(self.ALLOWED) and must_set_up_two_factor(user)):
            message = ("Your account must use two-factor sign-in: turn it on at "
                       "/accounts/two-factor/ first.")
            if request.path.startswith(API_PREFIX):
                return JsonResponse({"detail": message}, status=403)
            messages.warning(request, message)
            return redirect(reverse("two-factor"))
        return self.get_response(request)


class TwoFactorSetupView(LoginRequiredMixin, View):
    """Turn two-factor sign-in on (scan, then confirm a code) or off (confirm a code)."""

    template_name = "registration/two_factor.html"

    def get(self, request):
        if not (is_clinician(request.user) or request.user.is_staff):
            return redirect("/")
        return self._render(request)

    def post(self, request):
        code = request.POST.get("code", "")
        device = confirmed_device(request.user)
        if device is not None:  # turning it off needs a current code too
            if check_code(request.user, code) is None:
                return self._render(request, error="That code is not right. Nothing changed.")
            TOTPDevice.objects.filter(user=request.user).delete()
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("two-factor")
        pending = self._pending(request.user)
        if not code.isdigit() or not pending.verify_token(code):
            return self._render(request, error="That code is not right. Check the app and try "
                                               "the current code.")
        pending.confirmed = True
        pending.save(update_fields=["confirmed"])
        otp_login(request, pending)
        messages.success(request, "Two-factor sign-in is on. You will need a code each time.")
        return redirect("two-factor")

    def _pending(self, user) -> TOTPDevice:
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        return device or TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)

    def _render(self, request, error=""):
        context = {"enabled": confirmed_device(request.user) is not None, "error": error}
        if not context["enabled"]:
            device = self._pending(request.user)
            context["secret"] = base64.b32encode(device.bin_key).decode()
            context["qr"] = segno.make(device.config_url, error="m").svg_data_uri(scale=4)
        return render(request, self.template_name, context, status=400 if error else 200)
