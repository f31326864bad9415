"""AUD-01 / issue 7 item 1: one audit row for each event, written by the real path (the HTTP view where
there is one, else the service, the Celery task or the command), with the actor, the opaque patient
reference for patient data, the request id and client address for web requests, and no patient data."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.test import Client

from tests.factories import TEST_PASSWORD


@dataclass
class Expect:
    action: str
    user: object = None  # the actor; None = the system (a task or a command)
    patient_ref: str = ""  # expected opaque patient reference ("" = none expected)
    web: bool = True  # a web request: request id and client address are set
    outcome: str = "success"
    task_id: str = ""
    count: int = 1


def _login_post(world, password):
    return Client().post("/accounts/login/", {"username": world.users["nurse"].username, "password": password})


def sign_in(world, client_for):
    assert _login_post(world, TEST_PASSWORD).status_code == 302
    return Expect("auth.login", world.users["nurse"])


def sign_out(world, client_for):
    client = client_for(world.users["nurse"])
    assert client.post("/accounts/logout/").status_code == 302
    return Expect("auth.logout", world.users["nurse"])


def failed_sign_in(world, client_for):
    assert _login_post(world, "not-the-password").status_code == 200
    return Expect("auth.login_failed", None, outcome="failure")


def view_encounter(world, client_for):
    assert client_for(world.users["nurse"]).get(f"/charting/encounters/{world.enc_ready.pk}/").status_code == 200
    return Expect("encounter.view", world.users["nurse"], world.enc_ready.patient_ref)


def view_review_page(world, client_for):
    assert client_for(world.users["coder"]).get(f"/review/sets/{world.set_ready.pk}/").status_code == 200
    return Expect("review.view_charge_set", world.users["coder"], world.enc_ready.patient_ref)


def create_documentation(world, client_for):
    from charges.services.encounters import encounter_create

    encounter_create(
        center=world.center,
        actor=world.users["nurse"],
        values={"patient_mrn": "AUD-1", "patient_name": "Audit Person", "service_date": datetime.date(2025, 3, 5)},
    )
    return Expect("encounter.create", world.users["nurse"], web=False, patient_ref="*")


def add_administration(world, client_for):
    from charges.services.administrations import administration_create

    start = world.adm_push.start_at - datetime.timedelta(minutes=30)
    values = {"drug": "ondansetron", "hcpcs": "J2405", "route": "iv_push", "site": "A", "start_at": start}
    administration_create(
        encounter=world.enc_open, actor=world.users["nurse"], values=values | {"dose": 4, "dose_unit": "mg"}
    )
    return Expect("administration.create", world.users["nurse"], world.enc_open.patient_ref, web=False)


def change_documentation(world, client_for):
    from charges.services.administrations import administration_update

    administration_update(
        administration=world.adm_push, actor=world.users["nurse"], values={"dose": 6}, pauses=[], expected_version=None
    )
    return Expect("administration.update", world.users["nurse"], world.enc_open.patient_ref, web=False)


def sign_documentation(world, client_for):
    from charges.services.administrations import administration_stop_now

    administration_stop_now(administration=world.adm_running, actor=world.users["nurse"])
    client = client_for(world.users["nurse"])
    assert client.post(f"/charting/encounters/{world.enc_open.pk}/sign/").status_code == 302
    world.enc_open.refresh_from_db()
    assert world.enc_open.status == "signed", "the sign-off was refused"
    return Expect("encounter.sign", world.users["nurse"], world.enc_open.patient_ref)


def void_documentation(world, client_for):
    from charges.services.encounters import encounter_void

    encounter_void(encounter=world.enc_open, actor=world.users["nurse"], reason="charted on the wrong patient")
    return Expect("encounter.void", world.users["nurse"], world.enc_open.patient_ref, web=False)


def derivation_by_the_task(world, client_for):
    from charges.tasks import derive_encounter_task

    derive_encounter_task.apply(args=[world.enc_ready.pk], task_id="sec-task-0001")
    return Expect("charges.derive", None, world.enc_ready.patient_ref, web=False, task_id="sec-task-0001")


def correction(world, client_for):
    client = client_for(world.users["coder"])
    url = f"/review/sets/{world.set_ready.pk}/lines/{world.line_ready.pk}/correct/"
    data = {"units": "2", "modifiers": "", "reason": "documented twice", "version": world.set_ready.version}
    assert client.post(url, data).status_code == 302
    return Expect("review.line_correct", world.users["coder"], world.enc_ready.patient_ref)


def credit_after_export(world, client_for):
    from charges.models import ChargeLine

    client = client_for(world.users["coder"])
    url = f"/review/sets/{world.set_exported.pk}/lines/{world.line_exported.pk}/correct/"
    data = {"units": "2", "modifiers": "", "reason": "units corrected after export"}
    assert client.post(url, data | {"version": world.set_exported.version}).status_code == 302
    assert ChargeLine.objects.filter(replaces=world.line_exported, transaction_type="credit").exists()
    return Expect("review.line_correct", world.users["coder"], world.enc_exported.patient_ref)


def approval(world, client_for):
    client = client_for(world.users["coder"])
    response = client.post(f"/review/sets/{world.set_ready.pk}/approve/", {"version": world.set_ready.version})
    assert response.status_code == 302
    return Expect("charge_set.transition", world.users["coder"], world.enc_ready.patient_ref)


def query(world, client_for):
    client = client_for(world.users["coder"])
    data = {"question": "Which arm?", "version": world.set_ready.version}
    assert client.post(f"/review/sets/{world.set_ready.pk}/query/", data).status_code == 302
    return Expect("review.query_create", world.users["coder"], world.enc_ready.patient_ref)


def query_answer(world, client_for):
    client = client_for(world.users["nurse"])
    response = client.post(f"/review/queries/{world.query.pk}/answer/", {"answer": "Left arm.", "next": "/charting/"})
    assert response.status_code == 302
    return Expect("review.query_answer", world.users["nurse"], world.enc_queried.patient_ref)


def batch(world, client_for):
    from review.services import review_approve

    review_approve(charge_set=world.set_ready, actor=world.users["coder"])
    client = client_for(world.users["manager"])
    data = {"center": world.center.pk, "date": "2025-03-04"}
    response = client.post("/reports/close/", data)
    assert response.status_code == 302
    return Expect("export.batch_create", world.users["manager"], web=True)


def download(world, client_for):
    client = client_for(world.users["manager"])
    response = client.get(f"/reports/batches/{world.batch.pk}/files/csv/")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    return Expect("export.download", world.users["manager"])


def report_download(world, client_for):
    client = client_for(world.users["manager"])
    response = client.get("/reports/report.csv", {"date_from": "2025-03-01", "date_to": "2025-03-31"})
    assert response.status_code == 200
    b"".join(response.streaming_content)
    return Expect("report.download", world.users["manager"])


def resend(world, client_for):
    client = client_for(world.users["manager"])
    data = {"reason": "the billing system lost it", "password": TEST_PASSWORD}
    response = client.post(f"/reports/batches/{world.batch.pk}/resend/", data)
    assert response.status_code == 302, response.content.decode()[:1500]
    return Expect("export.resend", world.users["manager"])


def codebook_change(world, client_for):
    from codebook.models import Modifier
    from codebook.services import codebook_save_row

    row = Modifier(code="ZZ", description="security test modifier", valid_from=datetime.date(2030, 1, 1))
    codebook_save_row(row=row, actor=world.users["admin"])
    return Expect("codebook.create", world.users["admin"], web=False)


def load_codebook_force(world, client_for):
    call_command("load_codebook", "--force", verbosity=0)
    return Expect("codebook.load_force", None, web=False)


def refused_access(world, client_for):
    assert client_for(world.users["nurse"]).get("/review/").status_code == 403
    return Expect("access.denied", world.users["nurse"], outcome="denied")


def audit_viewer(world, client_for):
    assert client_for(world.users["admin"]).get("/audit/").status_code == 200
    return Expect("audit.view", world.users["admin"])


def unlock(world, client_for):
    client = client_for(world.users["admin"])
    assert (
        client.post("/accounts/access-review/unlock/", {"username": world.users["nurse"].username}).status_code == 302
    )
    return Expect("user.unlock", world.users["admin"])


EVENTS: list[Callable] = [
    sign_in,
    sign_out,
    failed_sign_in,
    view_encounter,
    view_review_page,
    create_documentation,
    add_administration,
    change_documentation,
    sign_documentation,
    void_documentation,
    derivation_by_the_task,
    correction,
    credit_after_export,
    approval,
    query,
    query_answer,
    batch,
    download,
    report_download,
    resend,
    codebook_change,
    load_codebook_force,
    refused_access,
    audit_viewer,
    unlock,
]

#: events an app does not write yet: name -> note (strict xfail)
MISSING: dict[str, str] = {}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "event",
    [
        pytest.param(e, marks=pytest.mark.xfail(strict=True, reason=MISSING[e.__name__]))
        if e.__name__ in MISSING
        else e
        for e in EVENTS
    ],
    ids=lambda e: e.__name__,
)
def test_an_audit_row_for_each_event(event, home, client_for):
    from audit.models import AuditEvent

    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    expect = event(home, client_for)
    rows = list(AuditEvent.objects.filter(pk__gt=last, action=expect.action).order_by("pk"))
    assert len(rows) == expect.count, f"{expect.action}: {len(rows)} rows, all new: " + str(
        list(AuditEvent.objects.filter(pk__gt=last).values_list("action", "outcome"))
    )
    row = rows[0]
    assert row.outcome == expect.outcome
    assert row.user_id == (expect.user.pk if expect.user is not None else None)
    if expect.patient_ref == "*":
        assert row.patient_ref
    elif expect.patient_ref:
        assert row.patient_ref == expect.patient_ref
    if expect.web:
        assert row.request_id and row.request_id != "-", "no request id on a web event"
        assert row.client_address == "127.0.0.1"
    if expect.task_id:
        assert row.task_id == expect.task_id
    assert row.timestamp.utcoffset() == datetime.timedelta(0)
    text = " ".join(str(v) for v in AuditEvent.objects.filter(pk__gt=last).values_list())
    leaked = [t for t in home.phi if t in text]
    assert not leaked, f"patient data in audit rows: {leaked}"
