from django.urls import path

from intake.api import views

urlpatterns = [
    path("questionnaires/current/", views.CurrentQuestionnaireView.as_view(),
         name="api-questionnaire-current"),
    path("submissions/", views.SubmissionCreateView.as_view(), name="api-submission-create"),
]
