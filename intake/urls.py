from django.urls import path

from intake import views

app_name = "intake"

urlpatterns = [
    path("", views.IntakeFormView.as_view(), name="form"),
    path("c/<slug:slug>/", views.IntakeFormView.as_view(), name="clinic-form"),
    path("i/<str:token>/", views.InvitationView.as_view(), name="invitation"),
    path("invitation/", views.IntakeFormView.as_view(), {"from_invitation": True},
         name="invitation-form"),
    path("advice/", views.AdviceView.as_view(), name="advice"),
]
