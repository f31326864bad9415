"""Any saved or deleted codebook row gives the codebook a new revision token (the rules-book cache key).

The services bump the token themselves too; the signals catch every other ORM path (the admin's
own saves, a shell session, a data migration using the real models).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save


def _changed(sender, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # fixture loading: the loader bumps once itself
    from codebook.services import bump_revision

    bump_revision()


def connect() -> None:
    from codebook.models import CODEBOOK_MODELS

    for model in CODEBOOK_MODELS:
        post_save.connect(_changed, sender=model, dispatch_uid=f"codebook-revision-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"codebook-revision-delete-{model.__name__}")
