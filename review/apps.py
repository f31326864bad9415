from django.apps import AppConfig


class ReviewConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "review"
    verbose_name = "Coder review"

    def ready(self) -> None:
        from review import signals  # noqa: F401 - registers the exported-line guard
