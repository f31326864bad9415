"""audit.context: bind / current / clear, as a call and as a context manager, per thread."""

from __future__ import annotations

import threading

import pytest

from audit import context


@pytest.fixture(autouse=True)
def _empty_context():
    context.clear()
    yield
    context.clear()


def test_bind_sets_and_clear_empties():
    context.bind(request_id="req-12345678", client_address="10.1.2.3", user_id="7")
    bound = context.current()
    assert (bound.request_id, bound.client_address, bound.user_id, bound.task_id) == ("req-12345678", "10.1.2.3", 7, "")
    assert bound["request_id"] == "req-12345678"
    context.clear()
    assert context.current() == context.AuditContext()


def test_bind_as_context_manager_restores_the_previous_values():
    context.bind(request_id="outer-request")
    with context.bind(task_id="task-1") as inner:
        assert inner.request_id == "outer-request"
        assert inner.task_id == "task-1"
    assert context.current().task_id == ""
    assert context.current().request_id == "outer-request"


def test_reset_by_hand_keeps_the_request_context_after_an_eager_task():
    context.bind(request_id="web-request-1", user_id=3)
    binding = context.bind(task_id="task-9")
    assert (context.current().request_id, context.current().task_id) == ("web-request-1", "task-9")
    binding.reset()
    assert context.current() == context.AuditContext(request_id="web-request-1", user_id=3)


def test_unknown_field_is_refused():
    with pytest.raises(TypeError, match="unknown field"):
        context.bind(patient_name="x")
    with pytest.raises(KeyError):
        context.current()["nope"]


def test_values_are_bounded_text():
    context.bind(request_id="r" * 500, client_address=None)
    assert len(context.current().request_id) == 64
    assert context.current().client_address == ""


def test_threads_do_not_see_each_others_context():
    context.bind(request_id="main-thread")
    seen = {}

    def worker():
        seen["before"] = context.current().request_id
        context.bind(request_id="worker-thread")
        seen["after"] = context.current().request_id

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"before": "", "after": "worker-thread"}
    assert context.current().request_id == "main-thread"
