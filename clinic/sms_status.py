"""The SMS provider's delivery receipts: ``POST /api/alerting/sms-status/``, the status callback
each text message names (Twilio's form fields ``MessageSid``, ``MessageStatus``, ``ErrorCode``,
``To``).  An entry point: it checks the provider's signature and the fields, and hands the
receipt to ``clinic.alerting.delivery.record_sms_receipt``.

The signature is Twilio's ``X-Twilio-Signature`` (``transports.twilio_signature``: HMAC-SHA1
under ``SMS_AUTH_TOKEN`` over the callback URL and the sorted parameters).  The URL it is checked
against is the one the service gave the provider (``SITE_URL`` + this path), not the one this
request arrived at, which a TLS-terminating proxy may have rewritten.
"""

import hmac
import re

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from clinic.alerting.delivery import record_sms_receipt
from clinic.alerting.transports import sms_status_callback_url, twilio_signature

SIGNATURE_HEADER = "X-Twilio-Signature"
MESSAGE_SID = re.compile(r"[A-Za-z0-9]{2,64}")
STATUS = re.compile(r"[a-z_-]{1,20}")
ERROR_CODE = re.compile(r"[0-9]{0,10}")
PHONE = re.compile(r"\+[0-9]{7,15}")


def _problem(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


@csrf_exempt  # the provider cannot hold a CSRF token; its signature authenticates it instead
def sms_status(request):
    if request.method != "POST":
        response = _problem("Only POST: the SMS provider posts delivery receipts here.", 405)
        response["Allow"] = "POST"
        return response
    if not settings.SMS_ENABLED:
        return _problem("This service sends no text messages (SMS_ACCOUNT_SID is not set).", 404)
    params = dict(request.POST.lists())
    expected = twilio_signature(sms_status_callback_url(), params,
                                token=settings.SMS_AUTH_TOKEN)
    if not hmac.compare_digest(expected, request.headers.get(SIGNATURE_HEADER, "")):
        return _problem(f"The {SIGNATURE_HEADER} header does not match this request.", 403)
    sid = request.POST.get("MessageSid", "")
    status = request.POST.get("MessageStatus", "").lower()
    error_code = request.POST.get("ErrorCode", "")
    to = request.POST.get("To", "")
    if not MESSAGE_SID.fullmatch(sid) or not STATUS.fullmatch(status):
        return _problem("MessageSid and MessageStatus are required (letters and digits; a "
                        "status such as delivered or undelivered).", 400)
    if not ERROR_CODE.fullmatch(error_code) or (to and not PHONE.fullmatch(to)):
        return _problem("ErrorCode must be a number and To a phone number in E.164 form.", 400)
    record_sms_receipt(provider_id=sid, status=status, error_code=error_code, to=to)
    return HttpResponse(status=204)
