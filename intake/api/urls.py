from django.urls import path

from intake.api import appointments, views

urlpatterns = [
    path("questionnaires/current/", views.CurrentQuestionnaireView.as_view(),
         name="api-questionnaire-current"),
    path("submissions/", views.SubmissionCreateView.as_view(), name="api-submission-create"),
    path("appointments/", appointments.AppointmentListView.as_view(), name="api-appointments"),
    path("appointments/<int:pk>/", appointments.AppointmentDetailView.as_view(),
         name="api-appointment"),
]
