from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_groups(sender, **kwargs):
    from accounts.services import sync_role_groups

    sync_role_groups()


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import checks, signals  # noqa: F401 - registers checks and receivers

        post_migrate.connect(_sync_groups, dispatch_uid="accounts.sync_groups")
