"""Manager pages: dashboard, Close day, downloads (CSV, XLSX, PDF, batch files), Re-send with
re-authentication, and center scoping (another center's batch is a 404)."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from reports.models import BatchFile, DayClose, ReSend
from reports.rows import HEADERS
from review.models import ExportBatch
from tests.factories import TEST_PASSWORD
from tests.reports.conftest import DOS, approve, audit_actions, make_set

pytestmark = pytest.mark.django_db

REPORT_QUERY = {"date_from": DOS.isoformat(), "date_to": DOS.isoformat()}


def body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def close(client, center, day=DOS):
    return client.post(reverse("reports:close_day"), {"center": str(center.pk), "date": day.isoformat()}, follow=True)


# --- access ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["reports:dashboard", "reports:report", "reports:batches"])
def test_pages_are_for_managers_only(client_for, nurse, coder, manager, name):
    assert client_for(nurse).get(reverse(name)).status_code == 403
    assert client_for(coder).get(reverse(name)).status_code == 403
    assert client_for(manager).get(reverse(name)).status_code == 200


def test_another_centers_batch_is_a_404(approved_set, center, manager, other_manager, client_for):
    close(client_for(manager), center)
    batch = ExportBatch.objects.get()
    other = client_for(other_manager)
    assert other.get(reverse("reports:batch", args=[batch.pk])).status_code == 404
    assert other.get(reverse("reports:batch_file", args=[batch.pk, "csv"])).status_code == 404
    response = other.post(reverse("reports:batch_resend", args=[batch.pk]), {"reason": "x", "password": TEST_PASSWORD})
    assert response.status_code == 404
    assert not ReSend.objects.exists()


def test_a_manager_sees_only_their_centers_lines(approved_set, center, other_center, nurse, manager, client_for):
    make_set(other_center, nurse, mrn="OTHER-MRN", name="Other Center Patient")
    client = client_for(manager)
    page = body(client.get(reverse("reports:report"), REPORT_QUERY))
    assert "Ada Testpatient" in page and "Other Center Patient" not in page
    text = body(client.get(reverse("reports:report_csv"), REPORT_QUERY))
    assert "MRN0001" in text and "OTHER-MRN" not in text
    # asking for the other center by id is a 404, whatever the page
    other = {**REPORT_QUERY, "center": str(other_center.pk)}
    for name in ("reports:report", "reports:report_csv", "reports:report_xlsx", "reports:dashboard"):
        assert client.get(reverse(name), other).status_code == 404
    assert client.get(reverse("reports:day_pdf"), {"center": other_center.pk, "date": DOS}).status_code == 404
    response = client.post(reverse("reports:close_day"), {"center": str(other_center.pk), "date": DOS.isoformat()})
    assert response.status_code == 404
    assert not ExportBatch.objects.exists()


@pytest.mark.parametrize(
    ("date_format", "shown"), [("m/d/Y", "03/04/2025"), ("d.m.Y", "04.03.2025"), ("Y-m-d", "2025-03-04")]
)
def test_report_rows_show_dates_in_the_centers_format_and_files_in_iso(
    approved_set, center, manager, client_for, date_format, shown
):
    center.date_format = date_format
    center.save(update_fields=["date_format"])
    client = client_for(manager)
    page = body(client.get(reverse("reports:report"), REPORT_QUERY))
    assert f"<td>{shown}</td>" in page
    rows = list(csv.DictReader(io.StringIO(body(client.get(reverse("reports:report_csv"), REPORT_QUERY)))))
    assert {row["Date of service"] for row in rows} == {DOS.isoformat()}


# --- dashboard and close -------------------------------------------------------------------------------


def test_dashboard_shows_charts_with_tables(approved_set, center, manager, client_for):
    with time_machine.travel(datetime.datetime(2025, 3, 6, 15, 0, tzinfo=datetime.UTC)):
        page = body(client_for(manager).get(reverse("reports:dashboard")))
    assert page.count("<svg") == 4
    assert "Charge lag, median" in page and "Open documentation queries" in page
    assert ">Close day</button>" in page
    assert "<table" in page and "96413" in page
    assert "style=" not in page.split("<main", 1)[1]  # CSP: no inline style


def test_close_day_button_exports_once(approved_set, center, manager, client_for):
    client = client_for(manager)
    first = close(client, center)
    assert "Batch 1 exported 3 lines" in body(first)
    second = close(client, center)
    assert "nothing new to export" in body(second)
    assert ExportBatch.objects.count() == 1
    assert DayClose.objects.count() == 2


def test_close_day_with_a_bad_date_is_a_message(center, manager, client_for):
    response = close(client_for(manager), center, day=datetime.date(2999, 1, 1))
    assert response.status_code == 200
    assert "A day in the future cannot be closed" in body(response)
    response = client_for(manager).post(
        reverse("reports:close_day"), {"center": str(center.pk), "date": "31/02"}, follow=True
    )
    assert "Enter a valid date" in body(response)
    assert not DayClose.objects.exists()


def test_failed_nightly_close_is_shown_on_the_dashboard(center, manager, client_for):
    from reports.services import day_close_failed

    day_close_failed(center_id=center.pk, date=DOS, error="OperationalError", task_id="t-1")
    with time_machine.travel(datetime.datetime(2025, 3, 6, 15, 0, tzinfo=datetime.UTC)):
        page = body(client_for(manager).get(reverse("reports:dashboard")))
    assert "Failed day closes" in page and "OperationalError" in page


# --- downloads -------------------------------------------------------------------------------------------


def test_csv_download_streams_escaped_rows_and_is_audited(center, nurse, coder, manager, client_for):
    approve(make_set(center, nurse, name='=HYPERLINK("http://evil")'), coder)
    response = client_for(manager).get(reverse("reports:report_csv"), REPORT_QUERY)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(body(response))))
    assert tuple(rows[0]) == HEADERS
    names = {row[HEADERS.index("Patient name")] for row in rows[1:]}
    assert names == {'\'=HYPERLINK("http://evil")'}
    assert "report.download" in audit_actions(center_id=center.pk)


def test_xlsx_download_opens_with_expected_columns_and_totals(approved_set, manager, client_for):
    response = client_for(manager).get(reverse("reports:report_xlsx"), REPORT_QUERY)
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    lines = list(wb["Lines"].iter_rows(values_only=True))
    assert lines[0] == HEADERS
    assert len(lines) == 4
    amount = HEADERS.index("Amount")
    total = [row for row in wb["Totals"].iter_rows(values_only=True) if row[0] == "Total"][0]
    assert total[2:] == (3, 74, 7190)
    assert sum(row[amount] for row in lines[1:]) == total[4]


def test_report_page_bad_dates_are_messages(manager, client_for):
    response = client_for(manager).get(reverse("reports:report"), {"date_from": "2025-03-05", "date_to": "2025-03-01"})
    assert response.status_code == 200
    assert "The end date is before the start date" in body(response)
    response = client_for(manager).get(reverse("reports:report_xlsx"), {"date_from": "nope", "date_to": ""})
    assert response.status_code == 400
    assert "Enter a valid date" in body(response)


def test_pdf_day_summary(approved_set, center, manager, client_for):
    response = client_for(manager).get(reverse("reports:day_pdf"), {"center": center.pk, "date": DOS.isoformat()})
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF-")
    assert b"Ada Testpatient" not in response.content


def test_batch_files_download_with_checksum(approved_set, center, manager, client_for):
    client = client_for(manager)
    close(client, center)
    batch = ExportBatch.objects.get()
    for kind in ("csv", "xlsx", "hl7"):
        response = client.get(reverse("reports:batch_file", args=[batch.pk, kind]))
        assert response.status_code == 200
        record = BatchFile.objects.get(batch=batch, kind=kind)
        assert response["X-Checksum-SHA256"] == record.sha256
        b"".join(response.streaming_content)
    assert audit_actions(action="export.download").count("export.download") == 3
    assert client.get(reverse("reports:batch_file", args=[batch.pk, "exe"])).status_code == 404


# --- re-send -------------------------------------------------------------------------------------------


def age_session(client, minutes: int = 10) -> None:
    """Makes the sign-in older than the 5-minute re-authentication window."""
    from infusioncenter.middleware import SESSION_ACTIVITY_KEY, SESSION_STARTED_KEY

    session = client.session
    now = datetime.datetime.now(datetime.UTC).timestamp()
    session[SESSION_STARTED_KEY] = now - minutes * 60
    session[SESSION_ACTIVITY_KEY] = now
    session.save()


def test_close_day_asks_for_the_password_after_five_minutes(approved_set, center, manager, client_for):
    client = client_for(manager)
    client.get(reverse("reports:dashboard"))
    age_session(client)
    response = client.post(reverse("reports:close_day"), {"center": str(center.pk), "date": DOS.isoformat()})
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:reauth"))
    assert not ExportBatch.objects.exists()


def test_resend_needs_reason_and_password(approved_set, center, manager, client_for):
    client = client_for(manager)
    close(client, center)
    batch = ExportBatch.objects.get()
    url = reverse("reports:batch_resend", args=[batch.pk])
    age_session(client)

    response = client.post(url, {"reason": "", "password": TEST_PASSWORD})
    assert response.status_code == 400 and "A reason is required" in body(response)
    response = client.post(url, {"reason": "lost by billing", "password": ""})
    assert response.status_code == 400 and "Enter your password" in body(response)
    response = client.post(url, {"reason": "lost by billing", "password": "wrong-password"})
    assert response.status_code == 400 and "not correct" in body(response)
    assert not ReSend.objects.exists()
    assert "auth.login_failed" in audit_actions()  # counted toward lockout like any wrong password

    response = client.post(url, {"reason": "lost by billing", "password": TEST_PASSWORD}, follow=True)
    assert "Batch 1 re-sent." in body(response)
    # within 5 minutes the password is not asked again; after that it is
    response = client.post(url, {"reason": "again", "password": ""}, follow=True)
    assert "Batch 1 re-sent." in body(response)
    assert ReSend.objects.count() == 2
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=6)):
        response = client.post(url, {"reason": "later", "password": ""})
    assert response.status_code == 400
    assert ReSend.objects.count() == 2
    assert audit_actions(action="export.resend") == ["export.resend", "export.resend"]
    page = body(client.get(reverse("reports:batch", args=[batch.pk])))
    assert "lost by billing" in page and ">Re-send</button>" in page


def test_dashboard_and_report_query_counts_do_not_grow_with_the_data(center, nurse, coder, manager, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(manager)

    def counts():
        with time_machine.travel(datetime.datetime(2025, 3, 6, 15, 0, tzinfo=datetime.UTC)):
            with CaptureQueriesContext(connection) as dash:
                assert client.get(reverse("reports:dashboard")).status_code == 200
            with CaptureQueriesContext(connection) as report:
                assert client.get(reverse("reports:report"), REPORT_QUERY).status_code == 200
        return len(dash), len(report)

    approve(make_set(center, nurse), coder)
    small = counts()
    for i in range(6):
        approve(make_set(center, nurse, mrn=f"MRN-Q{i}"), coder)
    assert counts() == small


def test_failed_outbox_delivery_links_to_the_re_send(approved_set, center, manager, client_for):
    from reports.services import day_close, day_close_failed

    batch = day_close(center=center, date=DOS, actor=manager).batch
    day_close_failed(center_id=center.pk, date=DOS, error="HL7 outbox: PermissionError", batch_id=batch.pk)
    with time_machine.travel(datetime.datetime(2025, 3, 6, 15, 0, tzinfo=datetime.UTC)):
        page = body(client_for(manager).get(reverse("reports:dashboard")))
    assert "could not be delivered" in page and "PermissionError" in page
    assert f'href="{reverse("reports:batch", args=[batch.pk])}">Re-send batch 1</a>' in page
