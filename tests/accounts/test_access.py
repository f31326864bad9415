"""accounts.access: centers_for, scoped, has_role, role_required; the access-review page; no deletion."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from accounts.access import centers_for, has_role, role_required, scoped
from accounts.models import Center, Membership
from accounts.roles import Role
from accounts.services import AccountError, membership_grant, membership_revoke, user_deactivate
from accounts.signals import UserDeletionRefused
from tests.factories import CenterFactory, UserFactory


@pytest.mark.django_db
def test_centers_for_and_has_role(nurse, center, other_center, manager):
    assert list(centers_for(nurse)) == [center]
    assert list(centers_for(nurse, Role.CODER)) == []
    assert has_role(nurse, center, Role.NURSE)
    assert has_role(nurse, center.pk)
    assert not has_role(nurse, other_center, Role.NURSE)
    assert not has_role(nurse, center, Role.MANAGER)


@pytest.mark.django_db
def test_inactive_centers_and_users_give_nothing(nurse, center):
    center.is_active = False
    center.save()
    assert not centers_for(nurse).exists()
    center.is_active = True
    center.save()
    nurse.is_active = False
    nurse.save()
    assert not centers_for(nurse).exists()
    assert not has_role(nurse, center)


@pytest.mark.django_db
def test_scoped_limits_a_queryset_to_the_users_centers(nurse, center, other_center):
    memberships = Membership.objects.all()
    assert set(scoped(memberships, nurse).values_list("center_id", flat=True)) == {center.pk}
    assert set(scoped(Center.objects.all(), nurse, center_field="id").values_list("pk", flat=True)) == {center.pk}


def test_unknown_roles_are_a_programming_error():
    with pytest.raises(ValueError, match="unknown role"):
        role_required("surgeon")


@pytest.mark.django_db
def test_role_required_denies_with_403_and_records_the_declaration(nurse, coder):
    @role_required(Role.CODER)
    def view(request):
        return HttpResponse("ok")

    assert view.access_roles == ("coder",)
    request = RequestFactory().get("/x/")
    request.user = coder
    assert view(request).content == b"ok"
    request.user = nurse
    with pytest.raises(PermissionDenied):
        view(request)


@pytest.mark.django_db
def test_a_membership_is_unique_per_user_center_and_role(nurse, center):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=nurse, center=center, role=Role.NURSE)


@pytest.mark.django_db
def test_the_database_refuses_an_unknown_role(nurse, center):
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=nurse, center=center, role="surgeon")


@pytest.mark.django_db
def test_granting_and_revoking_roles_keeps_staff_and_groups_in_step(admin_user, center):
    user = UserFactory(username="newbie")
    membership_grant(actor=admin_user, user=user, center=center, role=Role.MANAGER)
    user.refresh_from_db()
    assert user.is_staff and user.groups.filter(name="codebook readers").exists()
    membership_grant(actor=admin_user, user=user, center=center, role=Role.MANAGER)  # idempotent
    assert Membership.objects.filter(user=user).count() == 1
    assert membership_revoke(actor=admin_user, user=user, center=center, role=Role.MANAGER)
    user.refresh_from_db()
    assert not user.is_staff and not user.groups.exists()
    with pytest.raises(AccountError):
        membership_grant(actor=admin_user, user=user, center=center, role="surgeon")


@pytest.mark.django_db
def test_role_changes_are_audited(admin_user, center):
    audit_models = pytest.importorskip("audit.models")
    user = UserFactory(username="audited")
    membership_grant(actor=admin_user, user=user, center=center, role=Role.CODER)
    membership_revoke(actor=admin_user, user=user, center=center, role=Role.CODER)
    actions = list(audit_models.AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions[-2:] == ["membership.grant", "membership.revoke"]


@pytest.mark.django_db
def test_users_are_deactivated_never_deleted(admin_user, nurse):
    with pytest.raises(ProtectedError), transaction.atomic():  # memberships protect their user
        nurse.delete()
    loner = UserFactory(username="loner")
    with pytest.raises(UserDeletionRefused), transaction.atomic():
        loner.delete()
    user_deactivate(actor=admin_user, user=nurse)
    nurse.refresh_from_db()
    assert not nurse.is_active
    with pytest.raises(AccountError):
        user_deactivate(actor=admin_user, user=admin_user)


@pytest.mark.django_db
def test_access_review_lists_memberships_and_last_sign_in(client, admin_user, nurse, other_nurse, password):
    client.post(reverse("accounts:login"), {"username": "nurse", "password": password})
    client.post(reverse("accounts:logout"))
    nurse.refresh_from_db()
    assert nurse.last_login is not None
    page = client.get("/")  # anonymous -> login
    assert page.status_code == 302
    client.force_login(admin_user)
    page = client.get(reverse("accounts:access_review"))
    assert page.status_code == 200
    users = {u.username: u for u in page.context["users"]}
    assert "nurse" in users and "codebook" in users
    assert "other_nurse" not in users  # another center's staff is not the admin's to review
    body = page.content.decode()
    assert "Riverside Hospital Infusion: Nurse" in body
    assert "never" in body  # someone in the list has never signed in


@pytest.mark.django_db
def test_deactivate_from_the_access_review(admin_user, nurse, other_nurse, client_for):
    client = client_for(admin_user)
    assert client.post(reverse("accounts:deactivate", args=[nurse.pk])).status_code == 302
    nurse.refresh_from_db()
    assert not nurse.is_active
    # Another center's user is a 404, and stays active.
    assert client.post(reverse("accounts:deactivate", args=[other_nurse.pk])).status_code == 404
    other_nurse.refresh_from_db()
    assert other_nurse.is_active
    assert get_user_model().objects.filter(pk=nurse.pk).exists()


@pytest.mark.django_db
def test_center_time_zone_must_be_an_iana_zone():
    from django.core.exceptions import ValidationError

    center = CenterFactory.build(slug="bad-zone", name="Bad zone", time_zone="Mars/Olympus")
    with pytest.raises(ValidationError, match="IANA"):
        center.full_clean()
