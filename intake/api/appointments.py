"""The appointments API, for booking systems and reception: make (or update) an appointment,
reschedule or cancel it, and list a clinic's day with each intake's status and urgency.

Each view checks the request's shape, calls ``intake.services.appointments``, and renders the
result; who may do what, and what makes an appointment valid, is decided there.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.hours import local_time
from core.tokens import TokenAuthentication
from intake.api.parsers import StrictJSONParser, json_body
from intake.models import Appointment
from intake.services import appointments

NOT_SIGNED_IN = OpenApiResponse(description="Not signed in (send `Authorization: Token ...`).")
NOT_ALLOWED = OpenApiResponse(description="Signed in, without the appointment permissions.")
INTAKE_STATUSES = ["not started", "locked", "done"]
INVALID = OpenApiResponse(description="Invalid input: every problem, keyed by field.")


class AppointmentPatientDoc(serializers.Serializer):
    full_name = serializers.CharField(max_length=200)
    date_of_birth = serializers.DateField()
    phone = serializers.CharField(max_length=40, required=False)
    email = serializers.EmailField(required=False)


class AppointmentInputDoc(serializers.Serializer):
    clinic = serializers.SlugField(help_text="The clinic's slug, e.g. bedford.")
    starts_at = serializers.DateTimeField(help_text="ISO 8601; without an offset, the clinic's "
                                          "local time.")
    external_id = serializers.CharField(
        max_length=100, required=False,
        help_text="The booking system's id, unique per clinic: sending it again updates the "
        "appointment.")
    practitioner = serializers.IntegerField(required=False, allow_null=True,
                                            help_text="A clinician's id at this clinic.")
    status = serializers.ChoiceField(Appointment.Status.choices, required=False)
    patient = AppointmentPatientDoc()


class AppointmentChangeDoc(AppointmentInputDoc):
    clinic = serializers.SlugField(required=False)
    starts_at = serializers.DateTimeField(required=False)
    patient = AppointmentPatientDoc(required=False)


class IntakeDoc(serializers.Serializer):
    status = serializers.ChoiceField(INTAKE_STATUSES)
    reference = serializers.CharField(allow_null=True)
    urgency = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)


class AppointmentOutputDoc(serializers.Serializer):
    id = serializers.IntegerField()
    clinic = serializers.SlugField()
    starts_at = serializers.DateTimeField()
    external_id = serializers.CharField()
    practitioner = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(Appointment.Status.choices)
    patient = AppointmentPatientDoc()
    intake = IntakeDoc()


class SavedAppointmentDoc(AppointmentOutputDoc):
    invitation_url = serializers.URLField(help_text="The patient's link to the form.")
    invitation_token = serializers.CharField(
        help_text="The token in that link, for clients that send their own messages or submit "
        "with `\"invitation\"` on POST /api/submissions/.")


class DayDoc(serializers.Serializer):
    clinic = serializers.SlugField()
    date = serializers.DateField()
    appointments = AppointmentOutputDoc(many=True)


EXAMPLE = OpenApiExample("A new appointment", request_only=True, value={
    "clinic": "bedford", "starts_at": "2026-12-07T09:30:00+00:00", "external_id": "BK-1042",
    "patient": {"full_name": "Ada Example", "date_of_birth": "1971-03-02",
                "phone": "07700 900123", "email": "ada@example.org"},
})


def appointment_json(appointment: Appointment, intake=None) -> dict:
    intake = intake if intake is not None else getattr(appointment, "intake", None)
    invitation = getattr(appointment, "invitation", None)
    locked = invitation is not None and invitation.locked_at is not None
    return {
        "id": appointment.pk,
        "clinic": appointment.clinic.slug,
        "starts_at": local_time(appointment.clinic, appointment.starts_at).isoformat(),
        "external_id": appointment.external_id,
        "practitioner": appointment.practitioner_id,
        "status": appointment.status,
        "patient": {"full_name": appointment.full_name,
                    "date_of_birth": (appointment.date_of_birth.isoformat()
                                      if appointment.date_of_birth else None),
                    "phone": appointment.phone, "email": appointment.email},
        "intake": {
            "status": "done" if intake else "locked" if locked else "not started",
            "reference": intake.reference if intake else None,
            "urgency": intake.urgency if intake else None,
            "submitted_at": intake.submitted_at.isoformat() if intake else None,
        },
    }


def saved_json(saved: appointments.SavedAppointment) -> dict:
    return {**appointment_json(saved.appointment),
            "invitation_url": saved.invitation_url,
            "invitation_token": saved.invitation_token}


class AppointmentAPIView(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [StrictJSONParser]


class AppointmentListView(AppointmentAPIView):
    @extend_schema(
        operation_id="appointments_create",
        request=AppointmentInputDoc, examples=[EXAMPLE],
        responses={201: SavedAppointmentDoc,
                   200: OpenApiResponse(SavedAppointmentDoc, description="Updated: an "
                                        "appointment with this external_id was already here."),
                   400: INVALID, 401: NOT_SIGNED_IN, 403: NOT_ALLOWED},
    )
    def post(self, request):
        """Make an appointment and invite its patient; the same ``external_id`` at the same
        clinic updates it instead (safe to send again)."""
        saved = appointments.save_appointment(
            request.user, json_body(request, what="the appointment as a JSON object"))
        return Response(saved_json(saved), status=201 if saved.created else 200)

    @extend_schema(
        operation_id="appointments_day",
        parameters=[OpenApiParameter("clinic", str, required=True),
                    OpenApiParameter("date", str, required=True,
                                     description="YYYY-MM-DD, in the clinic's time zone.")],
        responses={200: DayDoc, 400: INVALID, 401: NOT_SIGNED_IN, 403: NOT_ALLOWED},
    )
    def get(self, request):
        """A clinic's appointments on one day, each with its intake's status and urgency."""
        clinic, on, rows = appointments.day(request.user, request.query_params.get("clinic"),
                                            request.query_params.get("date"))
        return Response({"clinic": clinic.slug, "date": on.isoformat(),
                         "appointments": [appointment_json(row.appointment, row.intake)
                                          for row in rows]})


class AppointmentDetailView(AppointmentAPIView):
    @extend_schema(
        operation_id="appointments_change",
        request=AppointmentChangeDoc,
        responses={200: SavedAppointmentDoc, 400: INVALID, 401: NOT_SIGNED_IN,
                   403: NOT_ALLOWED, 404: OpenApiResponse(description="No such appointment "
                                                          "at a clinic you manage.")},
    )
    def patch(self, request, pk: int):
        """Reschedule (``starts_at``), cancel (``"status": "cancelled"``) or correct an
        appointment; only the fields sent change."""
        saved = appointments.change_appointment(
            request.user, pk, json_body(request, what="the changes as a JSON object"))
        return Response(saved_json(saved))
