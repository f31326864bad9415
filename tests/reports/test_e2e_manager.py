"""The manager's part of the browser flow (issue 6 acceptance): open the dashboard (screenshot),
close the day, download the CSV and find the coder's approved lines in it.

The approved charge set is built with the real review service (the nurse and coder steps have
their own browser tests); fixed date of service 2025-03-04, so the test passes at any time.
"""

from __future__ import annotations

import csv
import io

import pytest

from tests.e2e.browser import axe_serious, sign_in
from tests.reports.conftest import DOS, approve, make_set

pytestmark = pytest.mark.e2e


def test_manager_closes_the_day_and_downloads_the_csv(page, e2e_site, shot, settings, tmp_path):  # noqa: F811
    settings.REPORTS_FILES_DIR = tmp_path / "exports"
    site = e2e_site
    users = site["users"]
    approve(make_set(site["center"], users["nurse"], mrn="E2E-0001", name="Test Patient"), users["coder"])

    sign_in(page, site["url"], "manager")
    page.goto(f"{site['url']}/reports/")
    assert page.get_by_role("heading", name="Charge capture dashboard").is_visible()
    assert page.locator("svg.report-chart").count() == 4
    shot(page, "reports-dashboard")
    assert axe_serious(page) == []

    page.get_by_label("Day", exact=True).fill(DOS.isoformat())
    page.get_by_role("button", name="Close day").click()
    page.wait_for_load_state("networkidle")
    assert "Batch 1 exported 3 lines" in page.content()
    shot(page, "reports-batch")

    page.goto(f"{site['url']}/reports/report/?date_from={DOS.isoformat()}&date_to={DOS.isoformat()}")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    path = download_info.value.path()
    rows = list(csv.DictReader(io.StringIO(open(path, encoding="utf-8").read())))
    assert [(r["MRN"], r["Code"], r["Status"], r["Batch"], r["Approved by"]) for r in rows] == [
        ("E2E-0001", "96413", "exported", "1", "coder"),
        ("E2E-0001", "96415", "exported", "1", "coder"),
        ("E2E-0001", "J9312", "exported", "1", "coder"),
    ]
