"""LOG-01/LOG-02: the 500 page shows the request id only; JSON logs carry the request id."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from django.conf import settings
from django.test import Client


@pytest.mark.urls("tests.platform.error_urls")
def test_the_500_page_shows_the_request_id_and_nothing_else(db):
    client = Client(raise_request_exception=False)
    response = client.get("/explode/", headers={"X-Request-ID": "req-0000abcd"})
    assert response.status_code == 500
    body = response.content.decode()
    assert "req-0000abcd" in body
    assert "RuntimeError" not in body and "MRN" not in body and "Traceback" not in body
    assert response["X-Request-ID"] == "req-0000abcd"


@pytest.mark.django_db
def test_404_and_403_pages_show_the_request_id(client_for, nurse):
    client = client_for(nurse)
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    assert missing["X-Request-ID"].encode() in missing.content
    denied = client.get("/accounts/access-review/")
    assert denied.status_code == 403
    assert denied["X-Request-ID"].encode() in denied.content


def _json_handler() -> tuple[logging.Handler, io.StringIO]:

    from infusioncenter.logging import RequestIdFilter, UtcJsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    fmt = settings.LOGGING["formatters"]["json"]
    handler.setFormatter(UtcJsonFormatter(fmt["fmt"], rename_fields=fmt["rename_fields"]))
    handler.addFilter(RequestIdFilter())
    return handler, stream


@pytest.mark.urls("tests.platform.error_urls")
def test_log_lines_are_json_with_the_request_id_and_no_exception_message_leaks_to_the_page(db):
    handler, stream = _json_handler()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        Client(raise_request_exception=False).get("/explode/", headers={"X-Request-ID": "req-logs-0001"})
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    assert lines, "the failing request logged nothing"
    assert all(line["request_id"] == "req-logs-0001" for line in lines)
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0]["time"])


def test_outside_a_request_the_request_id_is_a_dash():
    handler, stream = _json_handler()
    logger = logging.getLogger("tests.platform")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("hello")
    finally:
        logger.removeHandler(handler)
    assert json.loads(stream.getvalue())["request_id"] == "-"


@pytest.mark.django_db
def test_a_nul_character_in_a_form_or_query_is_a_clear_400(client_for, nurse):
    client = client_for(nurse)
    posted = client.post("/accounts/center/", {"center": "1\x00", "next": "/"})
    assert posted.status_code == 400
    assert b"could not be understood" in posted.content
    assert client.get("/?q=a%00b").status_code == 400
    assert client.get("/").status_code == 200
