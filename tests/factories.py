"""factory_boy factories shared by every app's tests. Apps add theirs here (ask the platform owner)."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from accounts.models import Center, Membership
from accounts.roles import Role

TEST_PASSWORD = "correct-horse-battery-9"


class CenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Center
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Infusion Center {n}")
    slug = factory.Sequence(lambda n: f"center-{n}")
    time_zone = "America/New_York"
    setting = Center.Setting.FACILITY
    default_payer = "medicare"
    place_of_service = "22"
    billing_entity = Center.BillingEntity.HOSPITAL
    department_status = Center.DepartmentStatus.ON_CAMPUS
    is_active = True

    class Params:
        practice = factory.Trait(
            time_zone="America/Chicago",
            setting=Center.Setting.PROFESSIONAL,
            place_of_service="11",
            billing_entity=Center.BillingEntity.PRACTICE,
            department_status="",
        )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    is_active = True
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy hook signature
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    center = factory.SubFactory(CenterFactory)
    role = Role.NURSE


def make_member(role: str, center: Center, **user_fields):
    """A user holding `role` at `center`, with staff flag and groups synced like the services do."""
    from accounts.services import sync_user_staff

    user = UserFactory(**user_fields)
    MembershipFactory(user=user, center=center, role=role)
    sync_user_staff(user)
    return user


class AdministrationFactory(factory.django.DjangoModelFactory):
    """An administration of `encounter` (required), by default a rituximab infusion on site A."""

    class Meta:
        model = "charges.Administration"

    drug = "rituximab"
    hcpcs = "J9312"
    route = "iv_infusion"
    site = "A"
    documented_by = factory.LazyAttribute(lambda a: a.encounter.created_by)


class ChargeLineFactory(factory.django.DjangoModelFactory):
    """A line of `charge_set` (required) built directly, not by the engine: amount = units x unit price."""

    class Meta:
        model = "charges.ChargeLine"

    position = 0
    modifiers = factory.LazyFunction(list)
    service_date = factory.LazyAttribute(lambda line: line.charge_set.encounter.service_date)
    unit_price = Decimal("0")
    amount = factory.LazyAttribute(lambda line: (line.unit_price * line.units).quantize(Decimal("0.01")))
    explanation = factory.LazyAttribute(lambda line: f"engine: {line.code}")
