"""Demo data for trying the site: two centers and one user per role. Only with DEBUG=1; idempotent."""

from __future__ import annotations

import importlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.checks import DEMO_EMAIL_DOMAIN
from accounts.models import Center, Membership
from accounts.roles import Role
from accounts.services import sync_role_groups, sync_user_staff

DEMO_CENTERS = [
    {
        "slug": "riverside",
        "name": "Riverside Hospital Infusion Center",
        "time_zone": "America/New_York",
        "setting": Center.Setting.FACILITY,
        "default_payer": "medicare",
        "place_of_service": "22",
        "billing_entity": Center.BillingEntity.HOSPITAL,
        "department_status": Center.DepartmentStatus.ON_CAMPUS,
    },
    {
        "slug": "lakeside",
        "name": "Lakeside Oncology Practice",
        "time_zone": "America/Chicago",
        "setting": Center.Setting.PROFESSIONAL,
        "default_payer": "medicare",
        "place_of_service": "11",
        "billing_entity": Center.BillingEntity.PRACTICE,
        "department_status": "",
    },
]

# username -> (first name, last name, [(center slug, role), ...])
DEMO_USERS = {
    "nurse": ("Nora", "Nurse", [("riverside", Role.NURSE), ("lakeside", Role.NURSE)]),
    "nurse2": ("Nick", "Nurse", [("riverside", Role.NURSE)]),
    "coder": ("Cora", "Coder", [("riverside", Role.CODER), ("lakeside", Role.CODER)]),
    "manager": ("Max", "Manager", [("riverside", Role.MANAGER), ("lakeside", Role.MANAGER)]),
    "codebook": ("Kim", "Keeper", [("riverside", Role.ADMIN), ("lakeside", Role.ADMIN)]),
}


class Command(BaseCommand):
    help = "Create the demo centers and users (DEBUG=1 only). Safe to run again."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("load_demo only runs with DEBUG=1: demo users must never exist in production.")
        password = settings.DEMO_PASSWORD
        with transaction.atomic():
            sync_role_groups()
            centers = {}
            for spec in DEMO_CENTERS:
                fields = {k: v for k, v in spec.items() if k != "slug"}
                center, created = Center.objects.get_or_create(slug=spec["slug"], defaults=fields)
                centers[spec["slug"]] = center
                self.stdout.write(f"{'created' if created else 'kept'} center {center.name} ({center.time_zone})")
            User = get_user_model()
            for username, (first, last, roles) in DEMO_USERS.items():
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={"first_name": first, "last_name": last, "email": f"{username}@{DEMO_EMAIL_DOMAIN}"},
                )
                user.is_active = True
                user.set_password(password)
                user.save()
                for slug, role in roles:
                    Membership.objects.get_or_create(user=user, center=centers[slug], role=role)
                sync_user_staff(user)
                self.stdout.write(
                    f"{'created' if created else 'kept'} user {username} ({', '.join(r for _, r in roles)})"
                )
        self._load_demo_days(centers.values())
        self.stdout.write(self.style.SUCCESS("demo data ready; password from DEMO_PASSWORD (see README)"))

    def _load_demo_days(self, centers) -> None:
        """Demo encounters come from the charges app (`charges.demo.load_demo_day`) once it exists."""
        try:
            demo = importlib.import_module("charges.demo")
        except ModuleNotFoundError as exc:
            if exc.name not in ("charges.demo",):
                raise
            self.stdout.write("no demo encounters yet (charges.demo not present)")
            return
        for center in centers:
            demo.load_demo_day(center)
            self.stdout.write(f"demo encounters loaded for {center.name}")
