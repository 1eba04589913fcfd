"""The clinic's URLs, with the floor view in front of them."""

from django.urls import path

from bench.floor.views import store_body
from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as clinic_urls

urlpatterns = [path("bench/floor/", store_body, name="bench-floor"), *clinic_urls]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
