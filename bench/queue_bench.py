"""Benchmark of the coder's review queue page (issue 5): p50/p95 over 20 requests on PostgreSQL.

    python bench/queue_bench.py                                   # 5,000 encounters over 3 centers
    python bench/queue_bench.py --encounters 20000 --requests 50
    python bench/queue_bench.py --debug                           # the same with DEBUG on (comparison only)
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/queue_bench.py

It (re)creates its own database (`infusion_queue_bench` by default) next to the one named by
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), migrates it, seeds the
encounters with their administrations, charge sets (about 4 lines each), derivations (a third with
warnings) and some open documentation queries, runs ANALYZE, then requests `/review/` as a coder of
the three centers through Django's test client (the full middleware stack) and prints p50/p95 and
the query count for the default page, a filtered page sorted by amount, a filtered last page, the
default order's last page and a page sorted by open queries. Figures are printed, never asserted;
target p95 < 300 ms. `--keep` leaves the database in place (for EXPLAIN ANALYZE of the page's queries).

Settings are production-like: DEBUG off (so the bench sets its own random SECRET_KEY and
ALLOWED_HOSTS=testserver), the cached template loader (Django's default), plain static storage
instead of the manifest (nothing is collected here). `--debug` measures with DEBUG on instead, for
comparison only: Django then wraps every cursor to record its queries and the site runs its
development settings; the first line of output says which one was measured.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import secrets
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TARGET_P95_MS = 300
CENTERS = (
    ("Bench North Infusion", "bench-north", "America/New_York", "facility"),
    ("Bench South Infusion", "bench-south", "America/Chicago", "facility"),
    ("Bench West Practice", "bench-west", "America/Los_Angeles", "professional"),
)
LINES = (
    ("96413", 1, [], Decimal("330"), "administration"),
    ("96415", 3, [], Decimal("70"), "administration"),
    ("96375", 1, [], Decimal("55"), "administration"),
    ("J9312", 70, ["JZ"], Decimal("95"), "drug"),
)
WARNINGS = ("HYDRATION_UNDER_31", "MISSING_STOP_TIME", "HYDRATION_NOT_DOCUMENTED", "LONG_PUSH")


def prepare_database(base_url: str, name: str) -> str:
    import psycopg

    parts = urlsplit(base_url)
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def configure(database_url: str, *, debug: bool = False) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DEBUG"] = "1" if debug else "0"
    os.environ.setdefault("SECRET_KEY", "bench-" + secrets.token_urlsafe(48))
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infusioncenter.settings")
    sys.path.insert(0, str(PROJECT_ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import override_settings

    # the page, not collectstatic: plain static storage instead of the manifest (no collected files here)
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages).enable()


def seed(encounters: int, rng: random.Random):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from accounts.models import Center, Membership
    from charges.models import Administration, ChargeLine, ChargeSet, Derivation, Encounter
    from review.models import DocumentationQuery

    call_command("migrate", verbosity=0)
    User = get_user_model()  # noqa: N806 - Django idiom
    centers = [
        Center.objects.create(
            name=name,
            slug=slug,
            time_zone=zone,
            setting=setting,
            billing_entity="hospital" if setting == "facility" else "practice",
        )
        for name, slug, zone, setting in CENTERS
    ]
    coder = User.objects.create_user("bench_coder", password=secrets.token_urlsafe(16), first_name="Bench")
    nurse = User.objects.create_user("bench_nurse", password=secrets.token_urlsafe(16), first_name="Nina")
    for center in centers:
        Membership.objects.create(user=coder, center=center, role="coder")
        Membership.objects.create(user=nurse, center=center, role="nurse")
    start_day = datetime.date(2025, 3, 3)
    statuses = ["ready"] * 6 + ["on_hold", "approved", "exported", "draft"]
    payers = ["medicare", "medicare", "commercial", "medicaid"]
    encounter_rows = []
    for i in range(encounters):
        center = centers[i % len(centers)]
        encounter_rows.append(
            Encounter(
                center=center,
                patient_mrn=f"B{i:07d}",
                patient_name=f"Bench Patient {i:05d}",
                service_date=start_day + datetime.timedelta(days=i % 30),
                setting=center.setting,
                payer=payers[i % len(payers)],
                billing_entity=center.billing_entity,
                status="signed",
                created_by=nurse,
                signed_by=nurse,
            )
        )
    made = Encounter.objects.bulk_create(encounter_rows, batch_size=1000)
    utc = datetime.UTC
    administrations = []
    for i, enc in enumerate(made):
        start = datetime.datetime.combine(enc.service_date, datetime.time(15, 0), tzinfo=utc)
        administrations.append(
            Administration(
                encounter=enc,
                drug="rituximab",
                hcpcs="J9312",
                route="iv_infusion",
                site="A",
                start_at=start,
                stop_at=None if i % 50 == 0 else start + datetime.timedelta(minutes=250),
                documented_by=nurse,
            )
        )
        administrations.append(
            Administration(
                encounter=enc,
                drug="diphenhydramine",
                hcpcs="J1200",
                route="iv_push",
                site="A",
                start_at=start - datetime.timedelta(minutes=15),
                documented_by=nurse,
            )
        )
    Administration.objects.bulk_create(administrations, batch_size=2000)
    derivations = Derivation.objects.bulk_create(
        [
            Derivation(
                encounter=enc,
                status="done",
                documentation_version=1,
                warnings=(
                    [{"code": rng.choice(WARNINGS), "administration": "A1", "message": "bench"}] if i % 3 == 0 else []
                ),
            )
            for i, enc in enumerate(made)
        ],
        batch_size=1000,
    )
    sets = ChargeSet.objects.bulk_create(
        [
            ChargeSet(encounter=enc, status=statuses[i % len(statuses)], derivation=der)
            for i, (enc, der) in enumerate(zip(made, derivations, strict=True))
        ],
        batch_size=1000,
    )
    lines = []
    for cs, enc in zip(sets, made, strict=True):
        for position, (code, units, mods, price, kind) in enumerate(LINES):
            lines.append(
                ChargeLine(
                    charge_set=cs,
                    position=position,
                    code=code,
                    units=units,
                    modifiers=mods,
                    service_date=enc.service_date,
                    unit_price=price,
                    amount=price * units,
                    kind=kind,
                    explanation="bench",
                )
            )
    ChargeLine.objects.bulk_create(lines, batch_size=5000)
    queries = [
        DocumentationQuery(charge_set=cs, encounter_id=cs.encounter_id, question="bench query", asked_by=coder)
        for cs in sets
        if cs.status == "on_hold"
    ][: max(1, encounters // 25)]
    DocumentationQuery.objects.bulk_create(queries, batch_size=1000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return coder, len(lines), len(queries)


def _loaders() -> str:
    """The template loaders in use (Django wraps the default ones in the cached loader)."""
    from django.template import engines

    names = []
    for loader in engines["django"].engine.loaders:
        name, inner = (loader, []) if isinstance(loader, str) else (loader[0], loader[1])
        names.append(name.rsplit(".", 2)[-2] + (f"({', '.join(i.rsplit('.', 2)[-2] for i in inner)})" if inner else ""))
    return ", ".join(names)


def measure(client, url: str, params: dict, requests: int) -> list[float]:
    client.get(url, params, secure=True)  # warm up (template and connection caches)
    timings = []
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.get(url, params, secure=True)
        timings.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} {params} -> {response.status_code}")
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encounters", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--database", default="infusion_queue_bench")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--debug", action="store_true", help="measure with DEBUG on (comparison only)")
    args = parser.parse_args(argv)
    base_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    url = prepare_database(base_url, args.database)
    try:
        configure(url, debug=args.debug)
        from django.conf import settings

        print(f"DEBUG {'on' if settings.DEBUG else 'off'}, template loaders {_loaders()}")
        t0 = time.perf_counter()
        coder, line_count, query_count = seed(args.encounters, random.Random(args.seed))
        print(
            f"seeded {args.encounters} encounters / charge sets over {len(CENTERS)} centers, {line_count} lines, "
            f"{query_count} open queries in {time.perf_counter() - t0:.1f} s (database {args.database})"
        )
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        client = Client()
        client.force_login(coder)
        scenarios = [
            ("default page (all statuses, by date, 50 a page)", {}),
            (
                "filtered: status ready, payer medicare, sorted by amount desc",
                {"status": "ready", "payer": "medicare", "sort": "-amount"},
            ),
            ("filtered: warning HYDRATION_UNDER_31, last page", {"warning": "HYDRATION_UNDER_31", "page": "last"}),
            ("default order, last page", {"page": "last"}),
            ("sorted by open queries desc, page 50", {"sort": "-queries", "page": "50"}),
        ]
        worst = 0.0
        for label, params in scenarios:
            timings = measure(client, "/review/", params, args.requests)
            with CaptureQueriesContext(connection) as ctx:
                client.get("/review/", params, secure=True)
            p50, p95 = statistics.median(timings), percentile(timings, 0.95)
            worst = max(worst, p95)
            queries = len(ctx.captured_queries)
            print(f"{label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms over {args.requests} requests, {queries} queries")
        verdict = "met" if worst < TARGET_P95_MS else "NOT met"
        print(f"target p95 < {TARGET_P95_MS} ms: {verdict} (worst p95 {worst:.1f} ms)")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(base_url, args.database)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
