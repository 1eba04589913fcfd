"""Access to cases: only clinicians (see core.roles) see or act on a patient's intake."""

from django.contrib.auth.mixins import AccessMixin
from rest_framework.permissions import BasePermission

from core.roles import confirm_clinician, is_clinician


class IsClinician(BasePermission):
    message = "Only clinicians can see cases. Sign in with a clinician's account."

    def has_permission(self, request, view):
        return is_clinician(request.user)


class ClinicianRequiredMixin(AccessMixin):
    """Pages: anonymous visitors go to the login page; signed-in non-clinicians get a 403."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not confirm_clinician(request):
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)
