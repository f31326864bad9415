"""Issue 7 acceptance, bad input: the walk drives every form it finds with generated values.

Every page the walk opens (each role on each endpoint, filled with real objects) is read for its
forms; each distinct form (by its target route and fields) is submitted with Hypothesis-generated
values: oversized, malformed dates, times and numbers, wrong types (lists, JSON, booleans), control
characters and script-bearing text. Fails on any 5xx or exception, on any new row left by a refused
submission (a re-rendered form, a 4xx, or a redirect that carries only an error message), and on the
script payload echoed unescaped in an HTML response (also on the page a successful POST redirects to).
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import pytest
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import resolve
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.security import COVERAGE
from tests.security.formparse import Form, read_page
from tests.security.walk import walk_pages
from tests.security.world import changed, counts

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
PAYLOADS = (SCRIPT, ATTRIBUTE)

BAD_TEXT = [
    SCRIPT,
    ATTRIBUTE,
    f"J9312 {SCRIPT}",
    "A" * 10_000,
    "9" * 10_000,
    "",
    "   ",
    "\x00",
    "nul\x00byte",
    "\u202etxet-ltr",
    "\U0001d518\U0001d52b\U0001d526",
    "'; DROP TABLE charges_encounter; --",
    "../../../etc/passwd",
    "%00%0d%0aSet-Cookie: x=1",
    "{{ 7*7 }}",
]
BAD_NUMBERS = ["-1", "0", "1.5", "1e309", "NaN", "Infinity", "-0", "99999999999999999999999", "0x10", "١٢", "1,5"]
BAD_DATES = [
    "2025-02-30",
    "2025-13-01",
    "31/12/2025",
    "0000-00-00",
    "9999-12-31",
    "0001-01-01",
    "2025-3-4",
    "yesterday",
]
BAD_TIMES = ["25:61", "24:00", "12:5", "noon", "-1:00", "0930pm", "23:59:60", "1234567"]
WRONG_TYPES = ["[]", "{}", "null", "true", '{"a": [1, 2]}', "[1, 2, 3]"]
ANY_BAD = BAD_TEXT + BAD_NUMBERS + BAD_DATES + BAD_TIMES + WRONG_TYPES

#: form routes whose 200 answer is a success (a search result, a refreshed fragment), not a refusal
SUCCESS_200 = {"review/patients/", "charting/encounters/<int:pk>/preview/retry/"}
#: fields the walk keeps as the page gave them (the token; changing it only tests CSRF again)
KEEP = {"csrfmiddlewaretoken"}

EXAMPLES_PER_FORM = 3
#: every form is also submitted with each of these in every field (deterministic, before the generated ones)
FIXED_FILLS = (SCRIPT, ATTRIBUTE, "A" * 10_000, "nul\x00byte")

#: route -> note, for defects reported to an owner and not fixed yet; their failures are left to the
#: targeted regression tests below (strict xfail), so the walk keeps checking every other form
KNOWN_FORM_DEFECTS: dict[str, str] = {}


def _field_values(field) -> st.SearchStrategy:
    options = [o for o in field.options if o] if field.kind == "select" else []
    choices = [st.sampled_from(ANY_BAD), st.text(max_size=30), st.just(field.value)]
    if options:
        choices.append(st.sampled_from(options))
    single = st.one_of(*choices)
    # sometimes a list where one value is expected, sometimes the field is left out
    return st.one_of(single, st.lists(st.sampled_from(ANY_BAD), min_size=2, max_size=3), st.none())


def form_data(form: Form) -> st.SearchStrategy:
    fields = {}
    for f in form.fields:
        if f.kind in ("submit", "button", "reset", "image", "file") or f.name in fields:
            continue
        fields[f.name] = st.just(f.value) if f.name in KEEP else _field_values(f)
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not None})


def route_of(path: str) -> str:
    try:
        return resolve(path).route
    except Exception:  # noqa: BLE001 - a form pointing nowhere is reported by its path
        return path


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return ""  # downloads (CSV, XLSX, PDF, HL7) are not HTML
    return response.content.decode("utf-8", "replace")


def unescaped(response) -> list[str]:
    if not response.get("Content-Type", "").startswith("text/html"):
        return []
    text = _body(response)
    return [p for p in PAYLOADS if p in text]


def refused(route: str, response) -> bool:
    """Did the application refuse the submission (so it must have written nothing)?"""
    status = response.status_code
    if status == 200:
        return route not in SUCCESS_200
    if status in (301, 302, 303):
        levels = [m.level for m in get_messages(response.wsgi_request)]
        return bool(levels) and all(level >= message_levels.ERROR for level in levels)
    return status >= 400


def distinct_forms(pages) -> list[tuple[Form, str, str]]:
    """(form, role, page url) once per (method, target route, field names)."""
    seen = {}
    for page in pages:
        for form in page.forms:
            key = (form.method, route_of(form.path), tuple(sorted({f.name for f in form.fields})))
            seen.setdefault(key, (form, page.role, page.url))
    return list(seen.values())


def _reactivate(world) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(pk__in=[u.pk for u in world.users.values()]).update(is_active=True)


@pytest.mark.django_db
def test_every_form_survives_generated_bad_input(home, client_for):
    pages = walk_pages(home, client_for)
    login_page = Client().get("/accounts/login/")
    login_forms, _ = read_page(login_page.content.decode(), "/accounts/login/")
    forms = distinct_forms(pages) + [(f, "", "/accounts/login/") for f in login_forms]
    endpoints_seen = {p.endpoint.route for p in pages if p.status == 200}
    failures: list[str] = []
    statuses: Counter[int] = Counter()

    def driver(form: Form, client, route: str):

        @settings(
            max_examples=EXAMPLES_PER_FORM,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(data=form_data(form))
        def drive(data):
            before = counts()
            try:
                if form.method == "post":
                    response = client.post(form.path, data)
                else:
                    response = client.get(urlsplit(form.action).path, data)
            except Exception as exc:  # noqa: BLE001 - any exception is the failure we look for
                raise AssertionError(f"raised {type(exc).__name__}: {str(exc)[:200]}") from exc
            statuses[response.status_code] += 1
            assert response.status_code < 500, f"status {response.status_code}"
            echoed = unescaped(response)
            assert not echoed, f"unescaped echo of {echoed}"
            if form.method == "post":
                if refused(route, response):
                    diff = changed(before, counts())
                    assert not diff, f"refused ({response.status_code}) but wrote rows in {diff}"
                elif response.status_code in (301, 302, 303) and response["Location"].startswith("/"):
                    after = client.get(response["Location"])
                    assert after.status_code < 500, f"then GET {response['Location']} -> {after.status_code}"
                    echoed = unescaped(after)
                    assert not echoed, f"then GET {response['Location']}: unescaped {echoed}"

        for fill in FIXED_FILLS:
            drive = example(data={f.name: (f.value if f.name in KEEP else fill) for f in form.fields})(drive)
        return drive

    for form, role, page_url in forms:
        if route_of(form.path) in KNOWN_FORM_DEFECTS:
            continue
        _reactivate(home)
        client = client_for(home.users[role]) if role else Client()
        label = f"{role or 'anonymous'} {form.method.upper()} {form.action} (form on {page_url})"
        try:
            driver(form, client, route_of(form.path))()
        except Exception as exc:  # noqa: BLE001 - collect every form's shrunk failure
            falsifying = " ".join(getattr(exc, "__notes__", []))
            falsifying = falsifying if len(falsifying) < 600 else falsifying[:300] + " ... " + falsifying[-200:]
            failures.append(f"{label}: {str(exc).strip().splitlines()[0][:300]} | {falsifying}")

    found = len(forms)
    forms = [item for item in forms if route_of(item[0].path) not in KNOWN_FORM_DEFECTS]
    posts = sum(1 for f, _, _ in forms if f.method == "post")
    COVERAGE["bad input"] = (
        f"{len(endpoints_seen)} endpoints opened, {found} distinct forms found, {len(forms)} driven "
        f"({posts} POST, {len(forms) - posts} GET), {len(FIXED_FILLS)} fixed and up to {EXAMPLES_PER_FORM} "
        "generated submissions each; "
        f"answers {dict(sorted(statuses.items()))}"
    )
    print("\nbad input:", COVERAGE["bad input"])
    assert len(endpoints_seen) >= 20 and found >= 28 and len(forms) >= 20, COVERAGE["bad input"]
    assert not failures, "\n".join(failures)


# --- defects the walk found, pinned deterministically -------------------------------------------------------


@pytest.mark.django_db
def test_a_query_answer_with_a_bad_next_address_is_not_a_500(home, client_for):
    client = client_for(home.users["nurse"])
    for target in (ATTRIBUTE, "not-a-url", "javascript:alert(1)", "//evil.example/"):
        response = client.post(f"/review/queries/{home.query.pk}/answer/", {"answer": "Stopped 14:10.", "next": target})
        assert response.status_code == 302, target
        assert response["Location"].startswith("/") and not response["Location"].startswith("//"), target


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["abc", SCRIPT, "1.5"])
def test_deleting_an_administration_with_a_malformed_version_is_not_a_500(home, client_for, version):
    client = client_for(home.users["nurse"])
    url = f"/charting/encounters/{home.enc_open.pk}/administrations/{home.adm_push.pk}/delete/"
    response = client.post(url, {"version": version})
    assert response.status_code < 500
    assert type(home.adm_push).objects.filter(pk=home.adm_push.pk).exists(), "a damaged form deleted the row"


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["abc", SCRIPT, "1.5"])
def test_editing_an_encounter_with_a_malformed_version_is_not_a_500(home, client_for, version):
    client = client_for(home.users["nurse"])
    url = f"/charting/encounters/{home.enc_open.pk}/edit/"
    forms, _ = read_page(client.get(url).content.decode(), url)
    form = next(f for f in forms if f.path == url)
    data = {name: values[0] for name, values in form.defaults().items()}
    data["version"] = version
    before = counts()
    response = client.post(url, data)
    assert response.status_code < 500
    if response.status_code != 302:
        assert not changed(before, counts())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "request_",
    [
        ("get", "/review/", {"payer": "a\x00"}),
        ("get", "/review/", {"patient": "a\x00"}),
        ("post", "/review/patients/", {"q": "nul\x00byte"}),
        ("post", "/review/queries/{query}/close/", {"note": "nul\x00byte"}),
        ("post", "/review/queries/{query}/close/", {"note": "A" * 10_000}),
        ("post", "/review/queries/{query}/answer/", {"answer": "nul\x00byte", "next": "/charting/"}),
    ],
    ids=["queue-payer", "queue-patient", "patient-search", "close-nul", "close-10k", "answer-nul"],
)
def test_review_input_with_nul_bytes_or_oversized_text_is_not_a_500(home, client_for, request_):
    method, url, data = request_
    user = home.users["nurse" if "answer" in url else "coder"]
    client = client_for(user, raise_request_exception=False)
    before = counts()
    response = getattr(client, method)(url.format(query=home.query.pk), data)
    assert response.status_code < 500
    if response.status_code != 302:
        assert not changed(before, counts())


@pytest.mark.postgres
@pytest.mark.django_db
def test_signing_in_with_an_oversized_username_is_not_a_500():
    response = Client(raise_request_exception=False).post("/accounts/login/", {"username": "A" * 300, "password": "x"})
    assert response.status_code < 500
