"""Two-factor sign-in for clinicians and admins (time-based one-time codes, django-otp).

Any clinician or admin can turn it on at /accounts/two-factor/ with an authenticator app.
Once on, every way of signing in asks for the current code as well as the password: the
clinicians' login page, the admin's, and the API token endpoint.
"""

import base64

import segno
from django import forms
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.roles import is_clinician

DEVICE_NAME = "Authenticator app"


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def check_code(user, code: str) -> TOTPDevice | None:
    """The user's device if ``code`` is its current code, else None."""
    device = confirmed_device(user)
    code = (code or "").replace(" ", "")
    if device is None or not code.isdigit() or not device.verify_token(code):
        return None
    return device


class SecondFactorMixin(forms.Form):
    """Adds the authenticator code to a sign-in form; required once the user has turned it on."""

    otp_token = forms.CharField(
        label="Code from your authenticator app", required=False, max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Only if you have turned on two-factor sign-in.",
    )

    second_factor_messages = {
        "otp_required": "Enter the 6-digit code from your authenticator app.",
        "otp_invalid": "That code is not right, or has expired. Enter the current code.",
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if confirmed_device(user) is None:
            return
        code = self.cleaned_data.get("otp_token", "")
        if not code:
            raise forms.ValidationError(self.second_factor_messages["otp_required"],
                                        code="otp_required")
        device = check_code(user, code)
        if device is None:
            raise forms.ValidationError(self.second_factor_messages["otp_invalid"],
                                        code="otp_invalid")
        self.otp_device = device


class TwoFactorAuthenticationForm(SecondFactorMixin, AuthenticationForm):
    pass


class AdminTwoFactorAuthenticationForm(SecondFactorMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    form_class = TwoFactorAuthenticationForm

    def form_valid(self, form):
        response = super().form_valid(form)
        device = getattr(form, "otp_device", None)
        if device is not None:
            otp_login(self.request, device)
        return response


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
