"""The test flush also works with a live server thread sharing the (in-memory SQLite) database."""

from __future__ import annotations

import urllib.request

import pytest

from audit.models import AuditEvent
from audit.services import audit_record


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("run", [1, 2])
def test_flush_with_a_live_server(live_server, run):
    assert not AuditEvent.objects.filter(action="test.live").exists()
    audit_record(action="test.live", detail={"run": run})
    with urllib.request.urlopen(live_server.url + "/healthz", timeout=10) as response:  # noqa: S310 - local test server
        assert response.status == 200
