"""Error responses: JSON under /api/ (never an HTML page for a REST client), Django's own pages
elsewhere, and a body-size limit checked before anything reads the body."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"


def _is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


# Django's own refusals whose reason is safe to tell the client (a rejected Host header is not
# explained: that would help someone probing the deployment).
_EXPLAINED = (TooManyFieldsSent, TooManyFilesSent, RequestDataTooBig)


def bad_request(request, exception=None):
    if _is_api(request):
        detail = "The request could not be understood."
        if isinstance(exception, _EXPLAINED):
            detail = f"{detail} {exception}"
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "You do not have permission to do this."}, status=403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "Not found. The API's paths are listed at /api/schema/."},
                            status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Something went wrong on our side; it has been logged. "
                                       "Please try again."}, status=500)
    return defaults.server_error(request)


def api_exception_handler(exc, context):
    """DRF's exception handler, answering in JSON under /api/ whatever renderer the view has.

    The schema view renders YAML and the interactive docs HTML, so DRF would write their 404,
    405 and 406 in YAML or HTML; a REST client gets JSON errors everywhere under /api/.
    """
    response = drf_exception_handler(exc, context)
    request = context.get("request")
    if response is not None and request is not None and _is_api(request):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def api_not_found(request, *args, **kwargs):
    """The catch-all at the end of /api/: unknown paths are JSON 404s, whatever the method.

    A path that lacks only its trailing slash gets a 404 that names the right path: Django's
    APPEND_SLASH would redirect, and a client cannot follow a redirect with a POST's body.
    """
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            return JsonResponse({"detail": (
                f"Not found. Did you mean {request.path}/ ? The API's paths end with a slash."
            )}, status=404)
    return not_found(request)


class RequestBodyLimitMiddleware:
    """Refuses a request whose declared body is larger than REQUEST_BODY_MAX_BYTES with a 413,
    before any of it is read.  The admin, whose forms are large, keeps Django's own limit."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.limit = settings.REQUEST_BODY_MAX_BYTES

    def __call__(self, request):
        if not request.path.startswith("/admin/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > self.limit:
                message = (f"The request body is {length} bytes; the most this service accepts "
                           f"is {self.limit} bytes.")
                if _is_api(request):
                    return JsonResponse({"detail": message}, status=413)
                return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)
