"""Where the machine clients' part of the site starts: requests under these prefixes are
answered in JSON (or FHIR JSON), never with an HTML page or a redirect to a sign-in form."""

API_PREFIX = "/api/"
FHIR_PREFIX = "/api/fhir/"


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)
