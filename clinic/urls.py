from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from clinic import api, errors, health, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/submissions/<str:reference>/acknowledge/", api.AcknowledgeAPIView.as_view(),
         name="api-acknowledge"),
    path("api/", include("intake.api.urls")),
    re_path(r"^api/", errors.api_not_found),
    path("accounts/", include("django.contrib.auth.urls")),
    path("cases/<str:reference>/", views.CaseView.as_view(), name="case-detail"),
    path("cases/<str:reference>/acknowledge/", views.AcknowledgeView.as_view(),
         name="case-acknowledge"),
    path("", include("intake.urls")),
]

handler400 = "clinic.errors.bad_request"
handler403 = "clinic.errors.permission_denied"
handler404 = "clinic.errors.not_found"
handler500 = "clinic.errors.server_error"
