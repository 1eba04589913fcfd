"""REST entry points for clinicians: acknowledging an alert."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic import alerts, audit
from clinic.models import AuditEvent
from clinic.permissions import IsClinician
from clinic.views import _case

AcknowledgementDoc = inline_serializer("Acknowledgement", fields={
    "reference": serializers.CharField(),
    "acknowledged_at": serializers.DateTimeField(),
    "acknowledged_by": serializers.CharField(),
    "already_acknowledged": serializers.BooleanField(),
})


class AcknowledgeAPIView(APIView):
    """The duty clinician has seen the alert: escalation stops."""

    permission_classes = [IsClinician]

    @extend_schema(request=None, responses={
        200: AcknowledgementDoc,
        401: OpenApiResponse(description="Not signed in."),
        403: OpenApiResponse(description="Not a clinician."),
        404: OpenApiResponse(description="No such case, or it has no alert."),
    })
    def post(self, request, reference):
        submission = _case(reference)
        alert = getattr(submission, "alert", None)
        if alert is None:
            raise Http404("This case has no alert to acknowledge.")
        newly = alerts.acknowledge(alert, by=request.user)
        if newly:
            audit.record(request.user, AuditEvent.Action.ACKNOWLEDGE, submission=submission)
        return Response({
            "reference": submission.reference,
            "acknowledged_at": alert.acknowledged_at,
            "acknowledged_by": alert.acknowledged_by.get_username(),
            "already_acknowledged": not newly,
        })
