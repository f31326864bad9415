"""The nurse's day in a real browser (issue 4 acceptance): chart, preview, the missing-stop warning.

Fixed date of service 2025-03-04 so the test passes at any wall-clock time.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.e2e.browser import axe_serious, sign_in

pytestmark = pytest.mark.e2e

SERVICE_DATE = "2025-03-04"


def preview(page):
    return page.get_by_role("region", name="Charges preview")


def preview_codes(page) -> dict[str, int]:
    """Units per code shown in the preview table."""
    units: dict[str, int] = {}
    for row in preview(page).locator("tr.preview-line").all():
        code = row.get_attribute("data-code")
        units[code] = units.get(code, 0) + int(row.get_attribute("data-units"))
    return units


def create_encounter(page, base_url: str) -> str:
    page.goto(f"{base_url}/charting/encounters/new/")
    page.get_by_label("Date of service").fill(SERVICE_DATE)
    page.get_by_label("Patient name").fill("Test Patient")
    page.get_by_label("MRN").fill("E2E-0001")
    page.get_by_label("Visit / account number").fill("V-E2E-1")
    page.get_by_label("Setting").select_option("facility")
    page.get_by_label("Payer").select_option("medicare")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/charting/encounters/\d+/$"))
    return page.url


def wait_settled(page):
    """Wait until htmx has no request in flight and no swap still settling (its afterSettle handlers ran)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")


def open_form(page, opener):
    """Click what opens the administration form and wait until htmx has settled it.

    When the swap settles, the page moves the focus to the drug field and selects its text; typing into
    another field before that lands in the drug field (a flaky CI failure: "Drug: This field is required").
    """
    opener.click()
    form = page.locator("form.administration-form")
    form.get_by_label("Drug", exact=True).wait_for()
    wait_settled(page)
    return form


def save_form(page, form):
    """Save the administration form and wait for the answer: the block comes back without the form.

    Waiting matters: a later click racing this request would have its own swap undone by this answer.
    """
    form.get_by_role("button", name="Save").click()
    wait_settled(page)
    expect_no_form_errors(page)
    expect(form).to_have_count(0)


def add_administration(page, *, drug, hcpcs, route, start, stop=None, dose=None, unit=None, purpose=None, site="A"):
    form = open_form(page, page.get_by_role("button", name="Add administration"))
    drug_field = form.get_by_label("Drug", exact=True)
    drug_field.fill(drug)
    # pick the codebook drug from the type-ahead, as a nurse does; when the typing landed before htmx had
    # bound the freshly swapped form, ask again with the field's "search" trigger
    option = form.locator(f'#drug-options button[data-hcpcs="{hcpcs}"]').first
    for _ in range(3):
        try:
            option.wait_for(timeout=4_000)
            break
        except PlaywrightTimeout:
            drug_field.dispatch_event("search")
    option.click()
    form.get_by_label("Route").select_option(route)
    form.get_by_label("Site").fill(site)
    form.get_by_label("Start", exact=True).fill(start)
    if stop is not None:
        form.get_by_label("Stop", exact=True).fill(stop)
    if dose is not None:
        form.get_by_label("Dose", exact=True).fill(str(dose))
        form.get_by_label("Unit", exact=True).select_option(unit)
        form.get_by_label("Nothing discarded").check()
    if purpose is not None:
        form.get_by_label("Purpose (fluids)").select_option(purpose)
    save_form(page, form)


def expect_no_form_errors(page):
    errors = page.locator("form.administration-form .invalid-feedback, form.administration-form .alert-danger")
    assert errors.count() == 0, errors.all_inner_texts()


def wait_for_code(page, code: str):
    preview(page).locator(f'tr.preview-line[data-code="{code}"]').first.wait_for()


def test_nurse_charts_a_chemo_day_and_sees_the_charges(page, e2e_site, shot):
    base = e2e_site["url"]
    sign_in(page, base, "nurse")
    page.goto(f"{base}/charting/")
    assert not axe_serious(page), axe_serious(page)
    shot(page, "01-nurse-board")

    encounter_url = create_encounter(page, base)
    add_administration(
        page, drug="ritux", hcpcs="J9312", route="iv_infusion", start="10:00", stop="14:10", dose=700, unit="mg"
    )
    add_administration(
        page, drug="diphenhydramine", hcpcs="J1200", route="iv_push", start="9:45", stop="9:47", dose=25, unit="mg"
    )
    add_administration(
        page,
        drug="normal saline",
        hcpcs="J7030",
        route="iv_infusion",
        start="1000",
        stop="2:10 pm",
        purpose="hydration",
    )
    wait_for_code(page, "96375")
    codes = preview_codes(page)
    assert codes.get("96413") == 1, codes
    assert codes.get("96415") == 3, codes
    assert codes.get("96375") == 1, codes
    assert "96360" not in codes and "96361" not in codes, codes
    preview(page).locator('li.preview-warning[data-code="HYDRATION_UNDER_31"]').wait_for()
    explanation = preview(page).locator('tr.preview-line[data-code="96415"] details')
    explanation.locator("summary").click()
    assert "R10" in explanation.inner_text()
    shot(page, "02-nurse-encounter-preview")
    assert not axe_serious(page), axe_serious(page)

    # Clear the rituximab stop time: the preview now warns about the missing stop.
    form = open_form(page, page.get_by_role("link", name=re.compile("rituximab", re.I)).first)
    form.get_by_label("Stop", exact=True).fill("")
    save_form(page, form)
    preview(page).locator('li.preview-warning[data-code="MISSING_STOP_TIME"]').wait_for()
    assert "96413" not in preview_codes(page)
    shot(page, "03-nurse-missing-stop")

    # A tablet in portrait: nothing scrolls sideways.
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(encounter_url)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 768 px"
    shot(page, "04-nurse-encounter-768")


def test_add_administration_by_keyboard_alone(page, e2e_site):
    base = e2e_site["url"]
    sign_in(page, base, "nurse")
    create_encounter(page, base)
    assert page.locator("#administrations-block").get_by_text("ondansetron").count() == 0
    add = page.get_by_role("button", name="Add administration")
    add.focus()
    page.keyboard.press("Enter")
    drug = page.locator("form.administration-form").get_by_label("Drug", exact=True)
    drug.wait_for()
    wait_settled(page)  # the form's autofocus must not select what is being typed
    drug.focus()
    page.keyboard.type("ondansetron")
    page.keyboard.press("Tab")
    for _ in range(60):  # walk to the route select by keyboard
        if page.evaluate("document.activeElement && document.activeElement.name") == "route":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Alt+ArrowDown")
    page.keyboard.type("IV push")
    page.keyboard.press("Enter")
    for name, value in (("site", "A"), ("start_time", "11:00")):
        for _ in range(60):
            if page.evaluate("document.activeElement && document.activeElement.name") == name:
                break
            page.keyboard.press("Tab")
        page.keyboard.press("Control+A")
        page.keyboard.type(value)
    for _ in range(120):
        label = page.evaluate("document.activeElement && document.activeElement.textContent.trim()")
        tag = page.evaluate("document.activeElement && document.activeElement.tagName")
        if tag == "BUTTON" and label == "Save":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    page.locator("#administrations-block").get_by_text("ondansetron").first.wait_for()
    page.wait_for_timeout(1500)
    page.wait_for_load_state("networkidle")
    page.reload()
    saved = page.locator("#administrations-block").get_by_text("ondansetron", exact=False).count()
    assert saved == 1, f"saved {saved} times"
    wait_for_code(page, "96374")  # a lone therapeutic push is the initial service (R7, R9)
