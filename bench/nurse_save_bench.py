"""Nurse save-and-preview benchmark on PostgreSQL (issue 4 acceptance; target p95 < 150 ms).

20 concurrent clients (threads, each with its own database connection) each save administrations
through the real view (POST /charting/encounters/<pk>/administrations/new/ as htmx) and then fetch
the "Charges preview" fragment; the time of the pair is one sample. Celery runs eagerly (no
broker), so each save includes the engine run, the worst case for the nurse.

The script creates a bench database, migrates it, loads the codebook seed, and drops it at the
end (also on failure).

    .venv/bin/python bench/nurse_save_bench.py [--clients 20] [--saves 10] [--keep]
    PG_URL=postgres://postgres@127.0.0.1:5432  (server to use; default shown)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--saves", type=int, default=10, help="saves per client")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--profile", metavar="FILE", help="with --clients 1: write a cProfile of the client to FILE")
    args = parser.parse_args()

    import psycopg

    server = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    db_name = f"bench_nurse_{os.getpid()}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    os.environ["DATABASE_URL"] = f"{server}/{db_name}"
    os.environ.pop("REDIS_URL", None)  # eager: each save includes the engine run
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infusioncenter.settings")
    try:
        return _run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            print(f"dropped {db_name}")


def _run(args: argparse.Namespace) -> int:
    import logging

    import django

    django.setup()
    logging.disable(logging.CRITICAL)
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    setup_test_environment()
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    from django.contrib.auth import get_user_model

    from accounts.models import Center, Membership
    from accounts.roles import Role
    from charges.models import Administration
    from charges.services.encounters import encounter_create
    from codebook.services import codebook_load_seed

    codebook_load_seed(force=False)
    center = Center.objects.create(
        name="Bench Center",
        slug="bench",
        time_zone="America/New_York",
        setting="facility",
        default_payer="medicare",
        place_of_service="22",
        billing_entity="hospital",
        department_status="on_campus",
    )
    import datetime

    day = datetime.date(2025, 3, 4)
    users, encounters = [], []
    for i in range(args.clients):
        user = get_user_model().objects.create_user(username=f"bench_nurse_{i}", password=None)
        Membership.objects.create(user=user, center=center, role=Role.NURSE)
        users.append(user)
        encounters.append(
            encounter_create(
                center=center,
                actor=user,
                values={"patient_mrn": f"B{i:03d}", "patient_name": f"Bench Patient {i}", "service_date": day},
            )
        )
    print(f"setup: {time.perf_counter() - t0:.1f} s (migrate, codebook, {args.clients} nurses)")

    samples: list[float] = []
    saves: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(args.clients)

    def client_run(index: int) -> None:
        from django.db import connection

        client = Client()
        client.force_login(users[index])
        encounter = encounters[index]
        new_url = reverse("charges:administration_new", args=[encounter.pk])
        preview_url = reverse("charges:preview", args=[encounter.pk])
        client.get(reverse("charges:encounter", args=[encounter.pk]))  # warm-up: URL modules, templates
        barrier.wait()
        try:
            for n in range(args.saves):
                start_minute = 8 * 60 + n * 25
                data = {
                    "drug": "rituximab" if n == 0 else "ondansetron",
                    "route": "iv_infusion" if n == 0 else "iv_push",
                    "site": "A",
                    "start_date": day.isoformat(),
                    "start_time": f"{start_minute // 60:02d}:{start_minute % 60:02d}",
                    "stop_time": "14:10" if n == 0 else "",
                    "dose": "700" if n == 0 else "8",
                    "dose_unit": "mg",
                    "wasted": "0",
                    "pause-TOTAL_FORMS": "1",
                    "pause-INITIAL_FORMS": "0",
                    "pause-MIN_NUM_FORMS": "0",
                    "pause-MAX_NUM_FORMS": "20",
                }
                t = time.perf_counter()
                saved = client.post(new_url, data, HTTP_HX_REQUEST="true")
                t_save = time.perf_counter() - t
                preview = client.get(preview_url, HTTP_HX_REQUEST="true")
                elapsed = time.perf_counter() - t
                ok = saved.status_code == 200 and "HX-Trigger" in saved and preview.status_code == 200
                with lock:
                    if ok:
                        samples.append(elapsed)
                        saves.append(t_save)
                    else:
                        failures.append(f"client {index} save {n}: {saved.status_code}/{preview.status_code}")
        finally:
            connection.close()

    if args.profile and args.clients == 1:
        import cProfile

        profiled = client_run

        def client_run(index: int) -> None:  # noqa: F811 - the profiled variant
            cProfile.runctx("profiled(index)", globals(), {"profiled": profiled, "index": index}, args.profile)

    threads = [threading.Thread(target=client_run, args=(i,)) for i in range(args.clients)]
    t1 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t1
    stored = Administration.objects.count()
    print(
        f"clients: {args.clients}, saves: {len(samples)} ok, {len(failures)} failed, stored {stored}, wall {wall:.1f} s"
    )
    for failure in failures[:5]:
        print("  failure:", failure)
    if samples:
        ms = [s * 1000 for s in samples]
        save_ms = [s * 1000 for s in saves]
        print(
            f"save-and-preview: p50 {statistics.median(ms):.0f} ms, p95 {_percentile(ms, 95):.0f} ms, "
            f"max {max(ms):.0f} ms (save alone: p50 {statistics.median(save_ms):.0f} ms, "
            f"p95 {_percentile(save_ms, 95):.0f} ms); throughput {len(samples) / wall:.1f} saves/s"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
