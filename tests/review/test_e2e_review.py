"""The coder's part of the day in a real browser (issue 5 acceptance), continuing the nurse's encounter.

The nurse charts the rituximab day, restores the rituximab stop time and signs; `coder` opens the
set from the queue, sees the timeline and the explanations, queries the nurse about the hydration
indication; the nurse answers on her board; the coder closes the query, corrects a modifier with a
reason and approves. Screenshots of the queue and the review page go to test-output/e2e/; axe-core
finds no serious or critical violation on either page. Fixed date of service 2025-03-04.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.browser import axe_serious, sign_in
from tests.e2e.test_nurse_flow import add_administration, create_encounter, open_form, preview, save_form, wait_for_code

pytestmark = pytest.mark.e2e


def switch_user(page, base: str, username: str) -> None:  # noqa: F811 - `page` is the Playwright page
    page.context.clear_cookies()
    sign_in(page, base, username)


def test_coder_reviews_queries_corrects_and_approves(page, e2e_site, shot):  # noqa: F811
    from charges.models import ChargeSet

    base = e2e_site["url"]
    sign_in(page, base, "nurse")
    create_encounter(page, base)
    add_administration(page, drug="ritux", hcpcs="J9312", route="iv_infusion", start="10:00", dose=700, unit="mg")
    add_administration(
        page, drug="diphenhydramine", hcpcs="J1200", route="iv_push", start="9:45", stop="9:47", dose=25, unit="mg"
    )
    add_administration(
        page, drug="normal saline", hcpcs="J7030", route="iv_infusion", start="10:00", stop="14:10", purpose="hydration"
    )
    preview(page).locator('li.preview-warning[data-code="MISSING_STOP_TIME"]').wait_for()
    # The nurse restores the rituximab stop time in her edit form, sees the infusion charged again, and signs.
    form = open_form(page, page.get_by_role("link", name=re.compile("rituximab", re.I)).first)
    form.get_by_label("Stop", exact=True).fill("14:10")
    save_form(page, form)
    wait_for_code(page, "96413")
    page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_load_state("networkidle")

    # the coder opens it from the queue
    switch_user(page, base, "coder")
    page.goto(f"{base}/review/")
    page.get_by_role("link", name="Test Patient").first.wait_for()
    assert not axe_serious(page), axe_serious(page)
    shot(page, "10-coder-queue")
    page.get_by_role("link", name="Test Patient").first.click()
    page.wait_for_url(re.compile(r"/review/sets/\d+/$"))
    set_pk = int(re.search(r"/review/sets/(\d+)/", page.url).group(1))
    timeline = page.locator("figure.review-timeline-figure svg")
    timeline.wait_for()
    assert timeline.locator("g.tl-push").count() == 1
    assert timeline.locator("g.tl-hydration").count() == 1
    assert "rituximab" in page.locator("table.review-timeline-table").inner_text()
    line_96415 = page.locator("table.review-lines tr", has=page.locator("strong", has_text="96415"))
    line_96415.locator("details summary", has_text="Why").click()
    assert "R10" in line_96415.inner_text()
    assert not axe_serious(page), axe_serious(page)
    shot(page, "11-coder-review")

    # Query nurse about the hydration indication
    page.get_by_label("Question for the nurse").fill("Indication for the hydration?")
    saline = page.locator("#query-administration option", has_text=re.compile("saline|sodium chloride", re.I))
    page.get_by_label("About").select_option(saline.first.get_attribute("value"))
    page.get_by_role("button", name="Query nurse").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-status]").first.get_attribute("data-status") == "on_hold"

    # the nurse answers on her board
    switch_user(page, base, "nurse")
    page.goto(f"{base}/charting/")
    page.get_by_text("Indication for the hydration?").wait_for()
    page.get_by_label("Your answer").first.fill("Dehydration, oral intake poor; ordered by Dr. Rivera")
    page.get_by_role("button", name="Answer").first.click()
    page.wait_for_load_state("networkidle")

    # the coder closes the query, corrects a modifier with a reason, approves
    switch_user(page, base, "coder")
    page.goto(f"{base}/review/sets/{set_pk}/")
    assert "Dehydration, oral intake poor" in page.locator("article.review-query").first.inner_text()
    page.get_by_role("button", name="Close query").click()
    page.wait_for_load_state("networkidle")
    row = page.locator("table.review-lines tr", has=page.locator("strong", has_text="96375"))
    row.locator("details summary", has_text="Edit line").click()
    row.get_by_label("Modifiers").fill("59")
    row.get_by_label("Reason (required)").fill("Push given on a separate site, per the nurse's note")
    row.get_by_role("button", name="Correct").click()
    page.wait_for_load_state("networkidle")
    row = page.locator("table.review-lines tr", has=page.locator("strong", has_text="96375"))
    assert "59" in row.inner_text() and "Engine's line" in row.inner_text()
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-status]").first.get_attribute("data-status") == "approved"
    shot(page, "12-coder-approved")
    page.goto("about:blank")
    assert ChargeSet.objects.get(pk=set_pk).status == "approved"
