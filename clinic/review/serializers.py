"""What the clinicians' API shows of a case.  Output only: the services decide everything."""

import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from clinic.models import Alert, CallOutcome, DeliveryAttempt, Notification
from clinic.review.cases import QueueRow
from intake.models import Submission
from screening.models import Flag


class UserName(serializers.CharField):
    def to_representation(self, user):
        return user.get_username()


class FlagSummary(serializers.ModelSerializer):
    code = serializers.CharField(source="rule_code")
    title = serializers.CharField(source="display_title")
    urgency = serializers.CharField(source="tier")

    class Meta:
        model = Flag
        fields = ["code", "title", "category", "urgency"]


class FlagDetail(FlagSummary):
    class Meta(FlagSummary.Meta):
        fields = [*FlagSummary.Meta.fields, "explanation", "evidence", "derived"]


class AlertSummary(serializers.ModelSerializer):
    acknowledged_by = UserName(allow_null=True)

    class Meta:
        model = Alert
        fields = ["urgency", "created_at", "level", "escalate_at", "acknowledged_at",
                  "acknowledged_by", "out_of_hours", "follow_up_at", "resolved_at"]


class AttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["channel", "started_at", "finished_at", "outcome", "error"]


class NotificationOutput(serializers.ModelSerializer):
    clinician = serializers.CharField(source="clinician.name")
    attempts = AttemptOutput(many=True)

    class Meta:
        model = Notification
        fields = ["level", "reason", "clinician", "status", "created_at", "delivered_at",
                  "attempts"]


class CallOutcomeOutput(serializers.ModelSerializer):
    recorded_by = UserName()

    class Meta:
        model = CallOutcome
        fields = ["outcome", "recorded_by", "recorded_at"]


class AlertDetail(AlertSummary):
    notifications = NotificationOutput(many=True)
    call_outcomes = CallOutcomeOutput(many=True)

    class Meta(AlertSummary.Meta):
        fields = [*AlertSummary.Meta.fields, "escalation_plan", "notifications",
                  "call_outcomes"]


class AgeAndSex(serializers.Serializer):
    """The patient's age on the day they submitted, and the answer to the ``sex`` question."""

    age = serializers.IntegerField(read_only=True, allow_null=True)
    sex = serializers.CharField(read_only=True, allow_null=True)


# One row of the queue as documented; ``queue_items`` writes the same rows faster.  (A comment:
# a docstring would replace the schema's description, inherited from AgeAndSex.)
class QueueItem(AgeAndSex, serializers.ModelSerializer):
    flags = FlagSummary(many=True)
    alert = AlertSummary(allow_null=True, default=None)
    claimed_by = UserName(allow_null=True)

    class Meta:
        model = Submission
        fields = ["reference", "urgency", "screening_failed", "status", "submitted_at",
                  "full_name", "age", "sex", "flags", "alert", "claimed_by", "claimed_at"]


def _moments():
    """DRF's ``DateTimeField().to_representation`` (None for None), for one response: the
    current time zone is looked up once, not for every moment (that lookup, through asgiref's
    context-local storage, was most of the time of writing the queue's 350 moments)."""
    field = serializers.DateTimeField(default_timezone=timezone.get_current_timezone())
    return lambda value: None if value is None else field.to_representation(value)


def queue_items(rows: list[QueueRow]) -> list[dict]:
    """``QueueItem(submissions, many=True).data``, written out from the queue's own rows
    (``cases.queue_after``): DRF's field machinery and the model instances were most of the
    queue API's time.  A test holds the two equal."""
    moment = _moments()
    return [{
        "reference": row.reference, "urgency": row.urgency,
        "screening_failed": row.screening_failed, "status": row.status,
        "submitted_at": moment(row.submitted_at), "full_name": row.full_name,
        "age": row.age, "sex": row.sex,
        "flags": [{"code": flag["code"], "title": flag["title"], "category": flag["category"],
                   "urgency": flag["tier"]} for flag in row.flags_shown],
        "alert": None if row.alert is None else _alert_item(row.alert, moment),
        "claimed_by": row.claimed_by, "claimed_at": moment(row.claimed_at),
    } for row in rows]


_ALERT_MOMENTS = frozenset(("created_at", "escalate_at", "acknowledged_at", "follow_up_at",
                            "resolved_at"))


def _alert_item(alert: dict, moment) -> dict:
    """``AlertSummary``'s fields, in its order, from the alert as the queue's query read it:
    its moments as JSON text, and on SQLite its flag as 0 or 1."""
    return {name: (moment(_from_json(alert[name])) if name in _ALERT_MOMENTS
                   else bool(alert[name]) if name == "out_of_hours" else alert[name])
            for name in AlertSummary.Meta.fields}


def _from_json(text: str | None) -> datetime.datetime | None:
    """A moment as a JSON object built in the database holds it: ISO 8601 with its offset on
    PostgreSQL, UTC without one on SQLite."""
    if text is None:
        return None
    moment = parse_datetime(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


# One answer (``intake.models.StoredAnswer``), with the question's text as it was asked.  (A
# comment, not a docstring: the OpenAPI schema would show it.)
class AnswerOutput(serializers.Serializer):
    code = serializers.CharField(source="question_code")
    question_text = serializers.CharField(max_length=500)
    value = serializers.JSONField()


class PatientOutput(AgeAndSex, serializers.ModelSerializer):
    class Meta:
        model = Submission
        fields = ["full_name", "date_of_birth", "age", "sex", "phone", "email"]


class CaseDetail(serializers.ModelSerializer):
    patient = PatientOutput(source="*")
    questionnaire_version = serializers.IntegerField(source="questionnaire_version.number")
    answers = AnswerOutput(source="answered", many=True)
    flags = FlagDetail(many=True)
    alert = AlertDetail(allow_null=True, default=None)
    claimed_by = UserName(allow_null=True)
    reviewed_by = UserName(allow_null=True)

    class Meta:
        model = Submission
        fields = ["reference", "urgency", "screening_failed", "status", "submitted_at",
                  "questionnaire_version", "patient", "answers", "flags", "alert",
                  "claimed_by", "claimed_at", "reviewed_by", "reviewed_at", "review_note",
                  "outcome", "triage_judgement", "judged_flag"]


class ReviewInput(serializers.Serializer):
    note = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="",
                                 trim_whitespace=True)
    outcome = serializers.ChoiceField(
        choices=Submission.Outcome.choices, allow_blank=True, required=False, default="",
        help_text="What happened to the patient (optional).")
    triage_judgement = serializers.ChoiceField(
        choices=Submission.Judgement.choices, allow_blank=True, required=False, default="",
        help_text="Was the screening's urgency right, too high or too low? (optional)")
    judged_flag = serializers.CharField(
        max_length=64, allow_blank=True, required=False, default="",
        help_text="The rule the judgement is about: one that fired wrongly, or one that should "
        "have fired (optional).")


class CallOutcomeInput(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=CallOutcome.Outcome.choices,
        help_text="What came of the call: any outcome but no_answer resolves the alert; "
        "no_answer keeps it open for another try.")


class TokenInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp_token = serializers.CharField(
        max_length=8, required=False, allow_blank=True,
        help_text="The authenticator code, for users who turned on two-factor sign-in.")
