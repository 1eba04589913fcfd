from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from clinic import api, errors, health, two_factor, views

admin.site.login_form = two_factor.AdminTwoFactorAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("livez", health.livez, name="livez"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/auth/token/", api.TokenAPIView.as_view(), name="api-token"),
    path("api/auth/token/revoke/", api.TokenRevokeAPIView.as_view(), name="api-token-revoke"),
    path("api/queue/", api.QueueAPIView.as_view(), name="api-queue"),
    path("api/submissions/<str:reference>/", api.CaseAPIView.as_view(), name="api-case"),
    path("api/submissions/<str:reference>/acknowledge/", api.AcknowledgeAPIView.as_view(),
         name="api-acknowledge"),
    path("api/submissions/<str:reference>/review/", api.ReviewAPIView.as_view(),
         name="api-review"),
    path("api/submissions/<str:reference>/claim/", api.ClaimAPIView.as_view(), name="api-claim"),
    path("api/submissions/<str:reference>/reopen/", api.ReopenAPIView.as_view(),
         name="api-reopen"),
    path("api/", include("intake.api.urls")),
    path("api/fhir/", include("intake.fhir.urls")),
    re_path(r"^api/", errors.api_not_found),
    path("accounts/login/", two_factor.LoginView.as_view(), name="login"),
    path("accounts/two-factor/", two_factor.TwoFactorSetupView.as_view(), name="two-factor"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("queue/", views.QueueView.as_view(), name="queue"),
    path("performance/", views.PerformanceView.as_view(), name="performance"),
    path("queue/rows/", views.QueueRowsView.as_view(), name="queue-rows"),
    path("cases/<str:reference>/", views.CaseView.as_view(), name="case-detail"),
    path("cases/<str:reference>/<str:action>/", views.CaseActionView.as_view(),
         name="case-action"),
    path("", include("intake.urls")),
]

handler400 = "clinic.errors.bad_request"
handler403 = "clinic.errors.permission_denied"
handler404 = "clinic.errors.not_found"
handler500 = "clinic.errors.server_error"
