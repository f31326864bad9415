"""Browser tests: Playwright driving Debian's headless Chromium against pytest-django's live server.

A pytest plugin (registered in tests/conftest.py) so every app's browser test shares one browser:
import only the helper functions (`sign_in`, `axe_serious`) from here, never the fixtures.

Playwright's own browser download does not work on these machines, so the browser is the system
`chromium` (`CHROMIUM_PATH`, default /usr/bin/chromium) passed as `executable_path`. Screenshots go
to `test-output/e2e/` (git-ignored); `.ci/run` prints their paths.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the fixtures make from the
# same thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DEMO_PASSWORD = "demo-charges-2025!"  # the documented DEMO_PASSWORD default


def _chromium_path() -> str | None:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.path.exists(path) else None


@pytest.fixture(scope="session")
def browser():
    path = _chromium_path()
    if path is None:
        pytest.fail("Debian chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def page(browser, request, transactional_db, live_server):
    """A fresh browser context; closed before the database is flushed (it depends on the db fixtures)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def shot():
    """`shot(page, "name")` saves test-output/e2e/name.png and returns its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def e2e_site(transactional_db, live_server):
    """The codebook from the seed, a facility center and the demo users (nurse, coder, manager)."""
    from django.core.management import call_command

    from accounts.roles import Role
    from tests.factories import CenterFactory, make_member

    call_command("load_codebook", verbosity=0)
    center = CenterFactory(name="Riverside Hospital Infusion", slug="riverside")
    users = {}
    for username, role in (("nurse", Role.NURSE), ("coder", Role.CODER), ("manager", Role.MANAGER)):
        user = make_member(role, center, username=username)
        user.set_password(DEMO_PASSWORD)
        user.save()
        users[username] = user
    return {"url": live_server.url, "center": center, "users": users}


def sign_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    assert "/accounts/login/" not in page.url, f"sign-in as {username} failed"


def sign_out(page, base_url: str) -> None:
    page.context.clear_cookies()


def axe_serious(page) -> list[dict]:
    """Serious or critical axe-core violations on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = results.response.get("violations", [])
    return [
        {"id": v["id"], "impact": v.get("impact"), "nodes": [n.get("target") for n in v.get("nodes", [])][:5]}
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]
