from django.apps import AppConfig


class ChargesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "charges"
    verbose_name = "Charges"
