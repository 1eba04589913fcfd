from django.urls import path

from intake import views

app_name = "intake"


def flow(prefix: str, name: str, **extra) -> list:
    """The form's pages for one way in: its first page, the others, and the check page."""
    return [
        path(prefix, views.FormPageView.as_view(), extra, name=f"{name}form"),
        path(f"{prefix}step/<int:step>/", views.FormPageView.as_view(), extra,
             name=f"{name}step"),
        path(f"{prefix}check/", views.CheckAnswersView.as_view(), extra, name=f"{name}check"),
    ]


urlpatterns = [
    *flow("", ""),
    *flow("c/<slug:slug>/", "clinic-"),
    *flow("invitation/", "invitation-", from_invitation=True),
    path("i/<str:token>/", views.InvitationView.as_view(), name="invitation"),
    path("language/", views.LanguageView.as_view(), name="language"),
    path("advice/", views.AdviceView.as_view(), name="advice"),
    path("advice/answers/", views.AnswersCopyView.as_view(), name="answers-copy"),
    path("copy/<str:token>/", views.EmailedCopyView.as_view(), name="copy"),
]
