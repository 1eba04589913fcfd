"""Error responses: JSON under /api/ (never an HTML page for a REST client), Django's own pages
elsewhere, a body-size limit checked before anything reads the body, and a prompt 503 with
Retry-After whenever the database cannot be reached.

Services raise the errors of ``core.errors``; this module is the one place they become HTTP:
``ERROR_STATUS`` gives each its status, ``api_exception_handler`` writes it for the REST API
(and, through it, FHIR's handler as an OperationOutcome), ``DomainErrorMiddleware`` for pages.
"""

import logging
import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from core.http import FHIR_PREFIX, is_api
from interop.fhir.http import error_response as fhir_error_response

logger = logging.getLogger(__name__)

# How long a client is asked to wait when the database is down: long enough not to hammer it,
# short enough that a patient retrying by hand is not kept waiting.
DATABASE_RETRY_AFTER_SECONDS = 30


# Django's own refusals whose reason is safe to tell the client (a rejected Host header is not
# explained: that would help someone probing the deployment).
_EXPLAINED = (TooManyFieldsSent, TooManyFilesSent, RequestDataTooBig)


def bad_request(request, exception=None):
    if is_api(request):
        detail = "The request could not be understood."
        if isinstance(exception, _EXPLAINED):
            detail = f"{detail} {exception}"
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "You do not have permission to do this."}, status=403)
    return defaults.permission_denied(request, exception)


def not_found(request, exception=None):
    if is_api(request):
        return JsonResponse({"detail": "Not found. The API's paths are listed at /api/schema/."},
                            status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    # Django calls this while handling the exception, so it can be looked at: a database that
    # cannot be reached (from a middleware, e.g. loading the session) is a 503, not a 500.
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable(request)
    if is_api(request):
        return JsonResponse({"detail": "Something went wrong on our side; it has been logged. "
                                       "Please try again."}, status=500)
    return defaults.server_error(request)


def api_exception_handler(exc, context):
    """DRF's exception handler, with the services' errors as ``api_exception`` makes them,
    answering in JSON under /api/ whatever renderer the view has.

    The schema view renders YAML and the interactive docs HTML, so DRF would write their 404,
    405 and 406 in YAML or HTML; a REST client gets JSON errors everywhere under /api/.
    """
    if isinstance(exc, DomainError):
        exc = api_exception(exc)
    response = drf_exception_handler(exc, context)
    request = context.get("request")
    if response is not None and request is not None and is_api(request):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


# --- The services' errors ----------------------------------------------------------------------

# The status of each error of ``core.errors``, whoever the client: the most specific class
# listed wins.
ERROR_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Invalid: 400,
    # The contract's status for an Idempotency-Key used again with another body.
    Conflict: 422,
    DomainError: 400,
}


def status_of(error: DomainError) -> int:
    return next(ERROR_STATUS[kind] for kind in type(error).__mro__ if kind in ERROR_STATUS)


def api_exception(error: DomainError) -> APIException:
    """The REST framework's exception for a service's error: ``Invalid`` as a ValidationError,
    whose body is its errors keyed as they are; any other as ``{"detail": its message}``."""
    exception = (ValidationError(error.errors) if isinstance(error, Invalid)
                 else APIException(str(error)))
    exception.status_code = status_of(error)
    return exception


def error_page(request, error: DomainError) -> HttpResponse:
    """A service's error that reached a page: Django's page for its status (the handlers
    above, which answer in JSON for the few views under /api/ outside the REST framework)."""
    status = status_of(error)
    page = {403: permission_denied, 404: not_found}.get(status, bad_request)
    response = page(request, error)
    response.status_code = status
    return response


class DomainErrorMiddleware:
    """Answers a service's error that a page let through with ``error_page`` (the REST
    framework's views answer theirs through ``api_exception_handler``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DomainError):
            return error_page(request, exception)
        return None


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: JSON under /api/ (a client posting with a token and a stale session
    cookie must not get Django's HTML page), Django's page elsewhere."""
    if is_api(request):
        return JsonResponse({"detail": (
            "CSRF check failed: a request signed in by session cookie must send the CSRF token. "
            "API clients should send Authorization: Token <token> and no session cookie.")},
            status=403)
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason=reason)


@csrf_exempt  # it changes nothing, and its answer must be the JSON 404, not a CSRF page
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
                if is_api(request):
                    return JsonResponse({"detail": message}, status=413)
                return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)


# --- The database is down ----------------------------------------------------------------------


def is_database_unavailable(error) -> bool:
    """Whether ``error`` means the database cannot be reached or the connection broke (as
    opposed to a bad query, which is a bug and stays a 500).  Django raises OperationalError
    for a refused connection, a pool that timed out waiting for one, and a server that went
    away mid-query, and InterfaceError for a connection already closed."""
    return isinstance(error, OperationalError | InterfaceError)


def database_unavailable(request) -> HttpResponse:
    """503 with Retry-After, in the form the client reads: an OperationOutcome under
    /api/fhir/, JSON under /api/, and elsewhere a page that tells a patient what to do now.
    Touches nothing that needs the database (no session, no user, no clinic)."""
    logger.error("database unavailable: answered %s %s with 503", request.method,
                 request.path if is_api(request) else "(page)")
    message = ("The service cannot reach its database just now. Nothing was stored. Try again "
               f"in {DATABASE_RETRY_AFTER_SECONDS} seconds.")
    if request.path.startswith(FHIR_PREFIX):
        response = fhir_error_response(503, message)
    elif is_api(request):
        response = JsonResponse({"detail": message}, status=503)
    else:
        page = render_to_string("service_unavailable.html",
                                {"retry_after": DATABASE_RETRY_AFTER_SECONDS})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    """Turns a view's database-connection error into ``database_unavailable`` (errors raised by
    middleware reach ``server_error``, which does the same)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_unavailable(exception):
            return database_unavailable(request)
        return None


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response the application makes (pages, API, FHIR,
    admin) unless the view chose its own: most carry patient data or a clinician's view of it,
    and neither a shared proxy nor the browser's disk may keep them.  Static files never get
    here (WhiteNoise answers them first) and keep their long cache lifetimes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store, private"
        return response
