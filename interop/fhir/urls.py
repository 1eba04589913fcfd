"""/api/fhir/: FHIR's own paths (``[base]/{type}`` and ``[base]/{type}/{id}``, no trailing
slash), and an OperationOutcome 404 for anything else below it."""

from django.urls import path, re_path

from interop.fhir import views

urlpatterns = [
    path("Questionnaire", views.QuestionnaireSearchView.as_view(),
         name="api-fhir-questionnaire-search"),
    path("Questionnaire/<str:id>", views.QuestionnaireReadView.as_view(),
         name="api-fhir-questionnaire"),
    path("QuestionnaireResponse", views.QuestionnaireResponseCreateView.as_view(),
         name="api-fhir-questionnaire-response-create"),
    path("QuestionnaireResponse/<str:reference>", views.QuestionnaireResponseReadView.as_view(),
         name="api-fhir-questionnaire-response"),
    path("Flag", views.FlagSearchView.as_view(), name="api-fhir-flag-search"),
    path("RiskAssessment", views.RiskAssessmentSearchView.as_view(),
         name="api-fhir-risk-assessment-search"),
    re_path(r"", views.UnknownPathView.as_view()),
]
