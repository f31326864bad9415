"""SEC-03 (issue 7 acceptance): the role x endpoint matrix with every object type of every app.

A user of the other center, holding a role the endpoint allows, opens each URL filled with this
center's ids (open, signed, queried and exported encounters, charge sets and their lines, the
documentation query, the export batch and its files, this center's users): GET and POST give a
404, never a 200 or a 403, and no table changes. Two such users per role: one with the role only
at the other center, one who also holds every other role here (so the role check passes and only
object scoping can refuse).
"""

from __future__ import annotations

import pytest

from tests.security import COVERAGE
from tests.security.walk import allowed_roles, concrete_urls, protected_endpoints, walk_pages
from tests.security.world import changed, snapshot

ID_ENDPOINTS = [e for e in protected_endpoints() if "<" in e.route]
PLAIN_ENDPOINTS = [e for e in protected_endpoints() if "<" not in e.route]

#: route -> note, for defects reported to an owner and not fixed yet (strict: a fixed one fails here)
KNOWN_DEFECTS: dict[str, str] = {}

GENERIC_POST = {
    "reason": "security walk",
    "question": "security walk",
    "answer": "security walk",
    "note": "security walk",
    "units": "2",
    "modifiers": "",
    "code": "96413",
    "password": "correct-horse-battery-9",
}


def owner_payloads(world, client_for) -> dict[str, dict[str, list[str]]]:
    """POST bodies as the owners' own pages would send them, by form action path."""
    payloads: dict[str, dict[str, list[str]]] = {}
    for page in walk_pages(world, client_for):
        for form in page.forms:
            if form.method != "post":
                continue
            data = form.defaults()
            for f in form.fields:
                if f.kind in ("text", "textarea") and not data.get(f.name, [""])[0]:
                    data[f.name] = [GENERIC_POST.get(f.name, "security walk")]
            payloads.setdefault(form.path, data)
    return payloads


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _check(outcomes: dict[str, list[str]]) -> None:
    unexpected = {route: msgs for route, msgs in outcomes.items() if msgs and route not in KNOWN_DEFECTS}
    fixed = [route for route in KNOWN_DEFECTS if route in outcomes and not outcomes[route]]
    lines = [f"{route}: {m}" for route, msgs in sorted(unexpected.items()) for m in msgs]
    assert not lines, "another center's objects are reachable or changed:\n" + "\n".join(lines)
    assert not fixed, f"fixed now, remove from KNOWN_DEFECTS: {fixed}"


def test_the_walk_covers_every_object_route():
    routes = {e.route for e in ID_ENDPOINTS}
    assert len(ID_ENDPOINTS) >= 20, routes
    for prefix in ("charting/encounters/", "charting/administrations/", "review/sets/", "review/queries/"):
        assert any(r.startswith(prefix) for r in routes), prefix
    assert any(r.startswith("reports/batches/") for r in routes)


@pytest.mark.django_db
def test_foreign_center_ids_are_404_and_change_nothing(home, foreign_users, client_for):
    payloads = owner_payloads(home, client_for)
    outcomes: dict[str, list[str]] = {}
    requests = 0
    for endpoint in ID_ENDPOINTS:
        msgs = outcomes.setdefault(endpoint.route, [])
        role = allowed_roles(endpoint)[0]
        clients = [(kind, client_for(user)) for kind, user in zip(("pure", "mixed"), foreign_users[role], strict=True)]
        before = snapshot()
        for kind, client in clients:
            for url in concrete_urls(endpoint, home):
                got = client.get(url)
                if got.status_code not in (404, 405):
                    msgs.append(f"{kind} {role} GET {url} -> {got.status_code} (expected 404)")
                for text in home.phi:
                    if text.encode() in body(got):
                        msgs.append(f"{kind} {role} GET {url} shows {text!r}")
                data = payloads.get(url, GENERIC_POST)
                posted = client.post(url, data)
                if posted.status_code not in (404, 405):
                    msgs.append(f"{kind} {role} POST {url} -> {posted.status_code} (expected 404)")
                requests += 2
        diff = changed(before, snapshot())
        if diff:
            msgs.append(f"tables changed: {diff}")
    COVERAGE["foreign-center ids"] = f"{len(ID_ENDPOINTS)} object routes, {requests} GET/POST requests, all 404"
    print("\nforeign-center ids:", COVERAGE["foreign-center ids"])
    assert requests >= 150
    _check(outcomes)


@pytest.mark.django_db
def test_foreign_center_parameters_are_refused_on_list_pages(home, foreign_users, client_for):
    """Pages without ids in the path but with a center, patient or date parameter: another center's value
    shows none of its patients and changes nothing."""
    outcomes: dict[str, list[str]] = {}
    params = {
        "center": home.center.pk,
        "patient": home.patient_token,
        "date": "2025-03-04",
        "from": "2025-03-01",
        "to": "2025-03-31",
        "date_from": "2025-03-01",
        "date_to": "2025-03-31",
        "q": home.enc_ready.patient_name[:8],
    }
    post = {
        **{k: str(v) for k, v in params.items()},
        "patient_name": "Foreign Attempt",
        "patient_mrn": "FOREIGN-1",
        "service_date": "2025-03-04",
        "setting": home.center.setting,
        "payer": "medicare",
        "billing_entity": home.center.billing_entity,
        "department_status": "on_campus",
        "username": home.users["nurse"].username,
    }
    for endpoint in PLAIN_ENDPOINTS:
        msgs = outcomes.setdefault(endpoint.route, [])
        role = allowed_roles(endpoint)[0]
        clients = [(kind, client_for(user)) for kind, user in zip(("pure", "mixed"), foreign_users[role], strict=True)]
        before = snapshot()
        for kind, client in clients:
            url = "/" + endpoint.route
            for method, response in (("GET", client.get(url, params)), ("POST", client.post(url, post))):
                if response.status_code >= 500:
                    msgs.append(f"{kind} {role} {method} {url} -> {response.status_code}")
                shown = [t for t in home.phi if t.encode() in body(response) and t != params["q"]]
                if shown:
                    msgs.append(f"{kind} {role} {method} {url}: shows {shown}")
                if response.status_code == 302 and method == "POST":
                    page = client.get(response["Location"])
                    shown = [t for t in home.phi if t.encode() in body(page)]
                    if shown:
                        msgs.append(f"{kind} {role} POST {url} then GET {response['Location']}: shows {shown}")
        diff = changed(before, snapshot())
        if diff:
            msgs.append(f"tables changed: {diff}")
    # the manager pages refuse another center's id outright (no existence leak)
    client = client_for(foreign_users["manager"][0])
    for name in ("reports:dashboard", "reports:report", "reports:report_csv", "reports:day_pdf"):
        from django.urls import reverse

        response = client.get(reverse(name), {"center": home.center.pk, "date": "2025-03-04", **params})
        if response.status_code != 404:
            outcomes.setdefault(name, []).append(f"?center=<other center> -> {response.status_code}, expected 404")
    _check(outcomes)
