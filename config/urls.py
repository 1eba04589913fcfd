"""The site's URLs: the project's own (admin, health, API documents, sign-in) and each app's."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from clinic import sms_status
from clinic.review import urls as review_urls
from config import errors, health
from core import two_factor

admin.site.login_form = two_factor.AdminTwoFactorAuthenticationForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("livez", health.livez, name="livez"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/alerting/sms-status/", sms_status.sms_status, name="sms-status"),
    path("api/", include(review_urls.api_urlpatterns)),
    path("api/", include("intake.api.urls")),
    path("api/fhir/", include("interop.fhir.urls")),
    re_path(r"^api/", errors.api_not_found),
    path("accounts/login/", two_factor.LoginView.as_view(), name="login"),
    path("accounts/two-factor/", two_factor.TwoFactorSetupView.as_view(), name="two-factor"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include(review_urls.urlpatterns)),
    path("", include("intake.urls")),
]

handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
