from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from intake.api.serializers import QuestionnaireVersionOutput
from intake.selectors import current_version


class CurrentQuestionnaireView(APIView):
    """The questionnaire patients answer now."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses=QuestionnaireVersionOutput)
    def get(self, request):
        version = current_version()
        if version is None:
            raise Http404("No questionnaire version has been published yet.")
        return Response(QuestionnaireVersionOutput(version).data)
