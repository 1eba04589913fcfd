from rest_framework import serializers

from intake.models import Choice, Question, QuestionnaireVersion, Section


class ChoiceOutput(serializers.ModelSerializer):
    # Declared, not derived from the model: the model's validator demands a leading letter, but
    # the published question bank has values such as "1_to_3_weeks", and the document must
    # describe what is served.
    value = serializers.RegexField(
        r"^[a-z0-9][a-z0-9_]*$", max_length=64,
        help_text="Stable identifier of this choice: send it as the answer.")
    exclusive = serializers.BooleanField(source="is_exclusive")

    class Meta:
        model = Choice
        fields = ["value", "label", "exclusive"]


class QuestionOutput(serializers.ModelSerializer):
    choices = ChoiceOutput(many=True)
    min = serializers.IntegerField(source="min_value", allow_null=True)
    max = serializers.IntegerField(source="max_value", allow_null=True)
    enable_when = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = ["code", "text", "help_text", "type", "required", "choices", "min", "max",
                  "max_length", "enable_when"]

    def get_enable_when(self, question) -> dict | None:
        return question.enable_when


class SectionOutput(serializers.ModelSerializer):
    questions = QuestionOutput(many=True)

    class Meta:
        model = Section
        fields = ["title", "questions"]


class QuestionnaireVersionOutput(serializers.ModelSerializer):
    questionnaire = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    version = serializers.IntegerField(source="number")
    sections = SectionOutput(many=True)

    class Meta:
        model = QuestionnaireVersion
        fields = ["questionnaire", "version", "title", "introduction", "published_at", "sections"]

