from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Infrastructure with no models of its own; an app only so that it can connect its signal
    receivers once Django is ready."""

    name = "core"
    verbose_name = "Core"

    def ready(self):
        # Connects the receivers that revoke API tokens when credentials change.
        from django.core import signals

        from core import configuration, tokens  # noqa: F401

        # A request's configuration generation is the one its connection was checked out with.
        signals.request_started.connect(configuration.request_started,
                                        dispatch_uid="core.configuration.request_started")
        signals.request_finished.connect(configuration.request_finished,
                                         dispatch_uid="core.configuration.request_finished")
