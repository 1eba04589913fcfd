from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinics and duty"

    def ready(self):
        # Connects the receivers that revoke API tokens when credentials change.
        from clinic import tokens  # noqa: F401
