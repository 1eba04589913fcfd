"""The floor view: a bare Django view, no REST framework, no validation, one INSERT."""

import json

from django.http import HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from bench.floor.models import FloorRecord


@csrf_exempt  # like the submission API, which takes no cookies and so needs no CSRF token
@require_POST
def store_body(request):
    try:
        body = json.loads(request.body)
    except ValueError:
        return HttpResponseBadRequest("Send JSON.")
    record = FloorRecord.objects.create(body=body)
    return JsonResponse({"id": record.pk}, status=201)
