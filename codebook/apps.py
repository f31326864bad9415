from django.apps import AppConfig


class CodebookConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "codebook"
    verbose_name = "Codebook"

    def ready(self) -> None:
        from codebook import signals

        signals.connect()
