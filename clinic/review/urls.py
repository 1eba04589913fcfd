"""The clinicians' pages and REST API (``config.urls`` includes both)."""

from django.urls import path

from clinic.review import api, views

# Under /api/.
api_urlpatterns = [
    path("auth/token/", api.TokenAPIView.as_view(), name="api-token"),
    path("auth/token/revoke/", api.TokenRevokeAPIView.as_view(), name="api-token-revoke"),
    path("queue/", api.QueueAPIView.as_view(), name="api-queue"),
    path("submissions/<str:reference>/", api.CaseAPIView.as_view(), name="api-case"),
    # A case's actions: POST submissions/<reference>/<action>/, named api-<action>.
    *(
        path(f"submissions/<str:reference>/{action}/", view.as_view(), name=f"api-{action}")
        for action, view in [
            ("acknowledge", api.AcknowledgeAPIView),
            ("review", api.ReviewAPIView),
            ("claim", api.ClaimAPIView),
            ("reopen", api.ReopenAPIView),
            ("call-outcome", api.CallOutcomeAPIView),
        ]
    ),
]

# The queue and a case, where clinicians work (an alert's link opens its case).
case_urlpatterns = [
    path("queue/", views.QueueView.as_view(), name="queue"),
    path("queue/rows/", views.QueueRowsView.as_view(), name="queue-rows"),
    path("cases/<str:reference>/", views.CaseView.as_view(), name="case-detail"),
    path("cases/<str:reference>/<str:action>/", views.CaseActionView.as_view(),
         name="case-action"),
    path("alerts/<str:token>/", views.AlertLinkView.as_view(), name="alert-link"),
]

# Reports and calendars: the screening's performance, alert response, a clinic's day of
# appointments, a clinician's duty calendar and its feed.
report_urlpatterns = [
    path("performance/", views.PerformanceView.as_view(), name="performance"),
    path("alert-response/", views.AlertResponseView.as_view(), name="alert-response"),
    path("appointments/", views.AppointmentDayView.as_view(), name="appointments"),
    path("rota/calendar/", views.DutyCalendarView.as_view(), name="duty-calendar"),
    path("rota/calendar/<str:token>.ics", views.DutyCalendarFeedView.as_view(),
         name="duty-calendar-feed"),
]

urlpatterns = [*case_urlpatterns, *report_urlpatterns]
