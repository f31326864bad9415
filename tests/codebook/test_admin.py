"""The codebook admin: who may open it, read-only started rows, new version, CSV import/export, audit."""

from __future__ import annotations

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from codebook.models import CODEBOOK_MODELS, Drug, Modifier

pytestmark = pytest.mark.django_db


def url(model, name: str, *args) -> str:
    return reverse(f"admin:codebook_{model._meta.model_name}_{name}", args=args)


@pytest.mark.parametrize("role", ["nurse", "coder"])
def test_nurses_and_coders_cannot_open_the_admin(seeded, client_for, request, role):
    client = client_for(request.getfixturevalue(role))
    for target in (reverse("admin:index"), url(Drug, "changelist"), url(Drug, "import_csv")):
        response = client.get(target)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


def test_a_manager_reads_but_does_not_change(seeded, client_for, manager):
    client = client_for(manager)
    for model in CODEBOOK_MODELS:
        assert client.get(url(model, "changelist")).status_code == 200
    drug = Drug.objects.get(hcpcs="J9312")
    page = client.get(url(Drug, "change", drug.pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert b"New version" not in page.content
    assert client.post(url(Drug, "change", drug.pk), {"name": "x"}).status_code == 403
    assert client.get(url(Drug, "add")).status_code == 403
    assert client.get(url(Drug, "import_csv")).status_code == 403
    assert client.get(url(Drug, "new_version", drug.pk)).status_code == 403
    assert client.get(url(Drug, "export_csv")).status_code == 200
    assert not AuditEvent.objects.filter(action__startswith="codebook.", user=manager).exists()


def test_the_keeper_sees_every_table_with_search_and_filters(seeded, client_for, admin_user):
    client = client_for(admin_user)
    for model in CODEBOOK_MODELS:
        response = client.get(url(model, "changelist"), {"in_force": "today", "q": "9"})
        assert response.status_code == 200, model
        assert b"Import CSV" in response.content and b"Export CSV" in response.content
    listing = client.get(url(Drug, "changelist"), {"q": "rituximab"})
    assert b"J9312" in listing.content and b"J9035" not in listing.content


def test_a_started_row_is_read_only_for_the_keeper_too(seeded, client_for, admin_user):
    client = client_for(admin_user)
    drug = Drug.objects.get(hcpcs="J9312")
    page = client.get(url(Drug, "change", drug.pk))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert url(Drug, "new_version", drug.pk).encode() in page.content
    assert client.post(url(Drug, "change", drug.pk), {"name": "edited"}).status_code == 403
    assert client.post(url(Drug, "delete", drug.pk), {"post": "yes"}).status_code == 403
    drug.refresh_from_db()
    assert drug.name != "edited"


def test_new_version_page_closes_the_row_and_is_audited(seeded, client_for, admin_user):
    client = client_for(admin_user)
    modifier = Modifier.objects.get(code="JW")
    form = client.get(url(Modifier, "new_version", modifier.pk))
    assert form.status_code == 200 and b"New version in force from" in form.content
    response = client.post(
        url(Modifier, "new_version", modifier.pk),
        {"valid_from": "2026-01-01", "description": "Drug wasted (new wording)"},
    )
    assert response.status_code == 302
    modifier.refresh_from_db()
    assert modifier.valid_to == datetime.date(2025, 12, 31)
    successor = Modifier.objects.get(code="JW", valid_from=datetime.date(2026, 1, 1))
    assert successor.description == "Drug wasted (new wording)"
    event = AuditEvent.objects.get(action="codebook.new_version")
    assert event.user == admin_user and event.object_id == str(successor.pk)


def test_new_version_page_shows_a_refusal(seeded, client_for, admin_user):
    client = client_for(admin_user)
    modifier = Modifier.objects.get(code="JW")
    response = client.post(url(Modifier, "new_version", modifier.pk), {"valid_from": "2024-01-01", "description": "x"})
    assert response.status_code == 200
    assert b"must start after 2025-01-01" in response.content
    assert Modifier.objects.filter(code="JW").count() == 1


def test_new_version_action_needs_one_row(seeded, client_for, admin_user):
    client = client_for(admin_user)
    rows = list(Modifier.objects.values_list("pk", flat=True)[:2])
    one = client.post(url(Modifier, "changelist"), {"action": "new_version_action", "_selected_action": rows[:1]})
    assert one.status_code == 302 and one["Location"] == url(Modifier, "new_version", rows[0])
    two = client.post(url(Modifier, "changelist"), {"action": "new_version_action", "_selected_action": rows})
    assert two.status_code == 302 and two["Location"].startswith(url(Modifier, "changelist"))


def test_export_action_returns_the_selected_rows(seeded, client_for, manager):
    rows = list(Modifier.objects.filter(code__in=["JW", "JZ"]).values_list("pk", flat=True))
    response = client_for(manager).post(
        url(Modifier, "changelist"), {"action": "export_csv_action", "_selected_action": rows}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0] == "code,description,valid_from,valid_to"
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["JW", "JZ"]


def test_import_page_reports_row_and_column_and_imports_nothing(seeded, client_for, admin_user):
    client = client_for(admin_user)
    assert client.get(url(Modifier, "import_csv")).status_code == 200
    bad = b"code,description,valid_from,valid_to\nZY,good row,2030-01-01,\nZ,bad code,2030-01-01,\n"
    response = client.post(url(Modifier, "import_csv"), {"file": SimpleUploadedFile("m.csv", bad, "text/csv")})
    assert response.status_code == 200
    assert b"row 3, column code" in response.content
    assert b"Nothing was imported" in response.content
    assert not Modifier.objects.filter(code="ZY").exists()
    good = b"code,description,valid_from,valid_to\nZY,good row,2030-01-01,\n"
    response = client.post(url(Modifier, "import_csv"), {"file": SimpleUploadedFile("m.csv", good, "text/csv")})
    assert response.status_code == 302
    assert Modifier.objects.filter(code="ZY").exists()
    assert AuditEvent.objects.filter(action="codebook.import", user=admin_user).count() == 1


def test_a_future_row_is_added_edited_and_deleted_in_the_admin_with_audit(seeded, client_for, admin_user):
    client = client_for(admin_user)
    future = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    added = client.post(url(Modifier, "add"), {"code": "ZX", "description": "future", "valid_from": future})
    assert added.status_code == 302, added.content.decode()[:2000]
    row = Modifier.objects.get(code="ZX")
    changed = client.post(
        url(Modifier, "change", row.pk), {"code": "ZX", "description": "future, reworded", "valid_from": future}
    )
    assert changed.status_code == 302
    row.refresh_from_db()
    assert row.description == "future, reworded"
    overlapping = client.post(url(Modifier, "add"), {"code": "ZX", "description": "again", "valid_from": future})
    assert overlapping.status_code == 200 and b"already has a version in force" in overlapping.content
    assert client.post(url(Modifier, "delete", row.pk), {"post": "yes"}).status_code == 302
    assert not Modifier.objects.filter(code="ZX").exists()
    actions = list(
        AuditEvent.objects.filter(object_type="codebook.modifier", user=admin_user)
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == ["codebook.create", "codebook.change", "codebook.delete"]


def test_history_is_view_only(seeded, client_for, admin_user):
    client = client_for(admin_user)
    modifier = Modifier.objects.get(code="JW")
    assert client.get(url(Modifier, "history", modifier.pk)).status_code == 200
    version = modifier.history.first()
    target = reverse("admin:codebook_modifier_simple_history", args=[modifier.pk, version.history_id])
    assert client.post(target, {"code": "JW", "description": "reverted"}).status_code == 403


def test_a_row_that_would_break_the_rules_book_is_a_form_error(seeded, client_for, admin_user):
    from codebook.models import AddonPrimary

    client = client_for(admin_user)
    future = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()
    response = client.post(url(AddonPrimary, "add"), {"addon": "96361", "primary": "0999T", "valid_from": future})
    assert response.status_code == 200
    assert b"would not build" in response.content and b"0999T" in response.content
    assert not AddonPrimary.objects.filter(primary="0999T").exists()
    assert not AuditEvent.objects.filter(action="codebook.create").exists()


@pytest.mark.parametrize("model", CODEBOOK_MODELS, ids=lambda model: model.TABLE)
def test_new_version_page_works_for_every_table(seeded, client_for, admin_user, model):
    from django.contrib import admin as django_admin

    from codebook.rows import row_cells

    row = model.objects.order_by("pk").first()
    model_admin = django_admin.site._registry[model]
    page = client_for(admin_user).get(url(model, "new_version", row.pk))
    assert page.status_code == 200
    data = {"valid_from": "2026-01-01"}
    for name in model_admin._version_fields():
        value = getattr(row, name)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else str(value)
    response = client_for(admin_user).post(url(model, "new_version", row.pk), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    row.refresh_from_db()
    successor = model.objects.exclude(pk=row.pk).get(
        valid_from=datetime.date(2026, 1, 1), **{name: getattr(row, name) for name in model.KEY if name != "payer"}
    )
    assert row.valid_to == datetime.date(2025, 12, 31)
    unchanged = {k: v for k, v in row_cells(row).items() if k not in ("valid_from", "valid_to")}
    assert {k: v for k, v in row_cells(successor).items() if k not in ("valid_from", "valid_to")} == unchanged


def test_end_page_closes_a_row_without_successor(seeded, client_for, admin_user, manager):
    modifier = Modifier.objects.get(code="JG")
    assert client_for(manager).get(url(Modifier, "close", modifier.pk)).status_code == 403
    client = client_for(admin_user)
    assert client.get(url(Modifier, "close", modifier.pk)).status_code == 200
    refused = client.post(url(Modifier, "close", modifier.pk), {"valid_to": "2024-12-31"})
    assert refused.status_code == 200 and b"cannot end before it starts" in refused.content
    response = client.post(url(Modifier, "close", modifier.pk), {"valid_to": "2025-12-31"})
    assert response.status_code == 302
    modifier.refresh_from_db()
    assert modifier.valid_to == datetime.date(2025, 12, 31)
    assert Modifier.objects.filter(code="JG").count() == 1
    event = AuditEvent.objects.get(action="codebook.close")
    assert event.detail["valid_to"] == ["", "2025-12-31"] and event.user == admin_user
