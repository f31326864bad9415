"""The four roles. A user holds roles per center through `Membership`."""

from django.db import models


class Role(models.TextChoices):
    NURSE = "nurse", "Nurse"
    CODER = "coder", "Coder"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Codebook admin"


#: Roles that make a user Django staff (they may open the admin, with the permissions of their group).
STAFF_ROLES = frozenset({Role.MANAGER, Role.ADMIN})

#: Django auth groups kept in step with the roles (accounts.services.sync_role_groups).
CODEBOOK_KEEPERS_GROUP = "codebook keepers"
CODEBOOK_READERS_GROUP = "codebook readers"
