"""The response when django-axes has locked a username out after repeated wrong passwords."""

from django.http import HttpResponse, JsonResponse

from core.http import API_PREFIX


def login_locked_out(request, original_response, credentials):
    """django-axes' lock-out response: JSON under /api/, a plain page elsewhere (no patient data
    is involved: it names neither the username nor the address)."""
    message = ("Too many failed sign-in attempts: this account is locked for a while from here. "
               "Try again later, or ask an administrator to unlock it.")
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": message}, status=429)
    return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
