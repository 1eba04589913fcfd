from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure with no models of its own; an app only so that it can connect its signal
    receivers once Django is ready."""

    name = "core"
    verbose_name = "Core"

    def ready(self):
        # Connects the receivers that revoke API tokens when credentials change.
        from core import tokens  # noqa: F401
