"""LOG-01 / LOG-02 (issue 7 item 5): no patient data in logs, task messages or error pages.

One flow with a validation error, a 404 for another center's encounter, a forced 500, a lockout and
a failing derivation task: each produces log records, and neither the records (as captured, and as
the project's JSON formatter writes them) nor the task messages contain a patient's name or MRN.
"""

from __future__ import annotations

import io
import json
import logging
from unittest import mock

import pytest
from django.conf import settings
from django.test import Client, override_settings


def _json_handler() -> tuple[logging.Handler, io.StringIO]:
    from pythonjsonlogger.json import JsonFormatter

    from infusioncenter.logging import RequestIdFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    fmt = settings.LOGGING["formatters"]["json"]
    handler.setFormatter(JsonFormatter(fmt["fmt"], rename_fields=fmt["rename_fields"]))
    handler.addFilter(RequestIdFilter())
    handler.setLevel(logging.DEBUG)
    return handler, stream


@pytest.mark.django_db
def test_the_flow_logs_each_event_and_no_patient_data(home, abroad, client_for, caplog):
    from charges.services.administrations import administration_stop_now
    from charges.tasks import derive_encounter_task

    handler, stream = _json_handler()
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    steps: dict[str, int] = {}

    def step(name: str, action) -> None:
        mark = len(caplog.records)
        try:
            action()
        finally:
            steps[name] = len(caplog.records) - mark

    coder, nurse = client_for(home.users["coder"]), client_for(home.users["nurse"])
    foreign = client_for(abroad.users["nurse"])
    try:
        # a validation error (the review page answers 400 and keeps the input, which names the patient)
        step(
            "validation error",
            lambda: _expect(coder.post(f"/review/sets/{home.set_ready.pk}/hold/", {"reason": ""}), 400),
        )
        step(
            "validation error (nurse form)",
            lambda: nurse.post(
                f"/charting/encounters/{home.enc_open.pk}/edit/",
                {"patient_name": home.patients[0][0], "patient_mrn": home.patients[0][1], "service_date": "2025-02-30"},
            ),
        )
        # another center's encounter
        step("404 for another center", lambda: _expect(foreign.get(f"/charting/encounters/{home.enc_ready.pk}/"), 404))
        # a forced 500 on a patient page
        with mock.patch(
            "charges.views.nurse.encounter_record_view", side_effect=RuntimeError("forced failure in a test")
        ):
            failing = client_for(home.users["nurse"], raise_request_exception=False)
            step("forced 500", lambda: _expect(failing.get(f"/charting/encounters/{home.enc_ready.pk}/"), 500))
        # a lockout: six failed sign-ins from one address
        anonymous = Client()
        username = home.users["nurse2"].username if "nurse2" in home.users else home.users["coder"].username
        step(
            "lockout",
            lambda: [anonymous.post("/accounts/login/", {"username": username, "password": "wrong"}) for _ in range(6)],
        )
        # a failing task: the engine raises inside the derivation (the service records a failed derivation)
        administration_stop_now(administration=home.adm_running, actor=home.users["nurse"])
        with mock.patch("charges.engine.api.derive_encounter", side_effect=RuntimeError("engine failed in a test")):
            step("failing task", lambda: derive_encounter_task.apply(args=[home.enc_open.pk], task_id="sec-log-task"))
    finally:
        root.removeHandler(handler)

    assert len(steps) == 6, steps
    silent = [name for name, n in steps.items() if n == 0 and "nurse form" not in name]
    assert not silent, f"steps that logged nothing: {silent} (all: {steps})"
    formatted = stream.getvalue()
    captured = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {getattr(r, 'exc_text', '') or ''} {r.__dict__}"
        for r in caplog.records
    )
    lines = [json.loads(line) for line in formatted.splitlines() if line.strip()]
    assert lines and all("request_id" in line for line in lines)
    for text in home.phi:
        assert text not in formatted, f"{text!r} in a JSON log line"
        assert text not in captured, f"{text!r} in a log record"


@pytest.mark.django_db
def test_a_task_whose_service_raises_is_logged_with_ids_only(home, caplog):
    from charges.tasks import derive_encounter_task

    caplog.set_level(logging.DEBUG)
    name, mrn = home.patients[1]
    with (
        mock.patch("charges.services.derivations.derivation_run", side_effect=RuntimeError("service failed")),
        pytest.raises(RuntimeError),  # eager tasks propagate (CELERY_TASK_EAGER_PROPAGATES)
    ):
        derive_encounter_task.apply(args=[home.enc_ready.pk], task_id="sec-log-task-2")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "the failed task left no log record"
    text = " ".join(f"{r.getMessage()} {r.__dict__}" for r in errors)
    assert name not in text and mrn not in text


def _expect(response, status):
    assert response.status_code == status, response.status_code
    return response


@pytest.mark.django_db
def test_task_messages_carry_ids_only(home, client_for, django_capture_on_commit_callbacks):
    from kombu.utils.json import dumps

    from charges.tasks import derive_encounter_task
    from infusioncenter.celery import app

    calls = []
    with (
        mock.patch.object(derive_encounter_task, "delay", side_effect=lambda *a, **k: calls.append((a, k))),
        mock.patch.object(derive_encounter_task, "apply_async", side_effect=lambda *a, **k: calls.append((a, k))),
        django_capture_on_commit_callbacks(execute=True),
    ):
        from charges.services.administrations import administration_update

        administration_update(
            administration=home.adm_push,
            actor=home.users["nurse"],
            values={"dose": 6},
            pauses=[],
            expected_version=None,
        )
    assert calls, "changing documentation queued no derivation"
    for args, kwargs in calls:
        values = list(args[0] if args and isinstance(args[0], tuple | list) else args) + list(kwargs.values())
        values = [v for v in values if not isinstance(v, dict)] + [
            x for v in values if isinstance(v, dict) for x in v.values()
        ]
        assert all(isinstance(v, int) for v in values), f"task arguments are not ids only: {args} {kwargs}"
        # the message as it would go to the broker (body and headers, argsrepr included)
        message = app.amqp.as_task_v2("sec-id", derive_encounter_task.name, args=list(args), kwargs=kwargs)
        wire = dumps({"headers": message.headers, "body": message.body})
        for text in home.phi:
            assert text not in wire


@pytest.mark.django_db
def test_the_500_page_shows_the_request_id_and_no_traceback(home, client_for):
    name, mrn = home.patients[1]
    with (
        override_settings(DEBUG=False),
        mock.patch("charges.views.nurse.encounter_record_view", side_effect=RuntimeError(f"failed for {name} {mrn}")),
    ):
        client = client_for(home.users["nurse"], raise_request_exception=False)
        response = client.get(f"/charting/encounters/{home.enc_ready.pk}/", headers={"X-Request-ID": "req-sec-500"})
    assert response.status_code == 500
    body = response.content.decode()
    assert "req-sec-500" in body
    for leak in ("Traceback", "RuntimeError", "failed for", name, mrn, "charges/views", 'File "'):
        assert leak not in body, leak
    assert "Content-Security-Policy" in response


@pytest.mark.celery_live
@pytest.mark.django_db
def test_task_messages_in_redis_carry_ids_only(home, django_capture_on_commit_callbacks):
    """The derivation queued by a documentation change, read back raw from the Redis list of a private queue."""
    import base64
    import os
    import uuid

    import redis

    from charges.services.administrations import administration_update
    from charges.tasks import derive_encounter_task
    from infusioncenter.celery import app

    url = os.environ["REDIS_URL"]
    queue = f"security-{uuid.uuid4().hex}"
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    original = derive_encounter_task.apply_async
    client = redis.Redis.from_url(url)
    app.conf.update(task_always_eager=False, broker_url=url)
    try:
        with (
            mock.patch.object(
                derive_encounter_task, "delay", side_effect=lambda *a, **k: original(args=a, kwargs=k, queue=queue)
            ),
            django_capture_on_commit_callbacks(execute=True),
        ):
            administration_update(
                administration=home.adm_push, actor=home.users["nurse"], values={"dose": 6}, pauses=[]
            )
        raw = client.lrange(queue, 0, -1)
    finally:
        app.conf.update(saved)
        client.delete(queue)
    assert raw, "no message reached the Redis queue"
    for item in raw:
        envelope = json.loads(item)
        body = json.loads(base64.b64decode(envelope["body"]))
        args, kwargs = body[0], body[1]
        assert all(isinstance(v, int) for v in [*args, *kwargs.values()]), body
        text = item.decode() + json.dumps(body)
        for phi in home.phi:
            assert phi not in text
