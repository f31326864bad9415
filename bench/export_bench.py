"""Benchmark of the daily charge report exports (issue 6) on PostgreSQL.

    python bench/export_bench.py                         # 10,000 encounters, about 60,000 lines
    python bench/export_bench.py --encounters 2000 --keep
    python bench/export_bench.py --database-url postgres://postgres@127.0.0.1:5432/postgres

Creates a fresh PostgreSQL database (`infusion_export_bench` on the server of --database-url,
default postgres://postgres@127.0.0.1:5432), migrates it, seeds one center with N encounters of
four to eight lines each (about 6 lines per encounter, all approved, half of them exported in a
batch), then runs each export in its own child process so its peak resident memory is its own:

    csv   the streaming CSV writer over the chunked database iterator, written to a temporary file
    xlsx  the openpyxl write-only workbook, written to a temporary file

and prints lines, seconds, peak RSS (ru_maxrss of the child, read with os.wait4; the parent
never imports Django, so the child's figure is its own), its CPU seconds and the interpreter's
baseline before the export and the targets of
issue 6 (CSV under 10 s and 200 MB; XLSX under 60 s and 300 MB). Figures are printed, never
asserted. The bench database is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "infusion_export_bench"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
TARGETS = {"csv": (10.0, 200.0), "xlsx": (60.0, 300.0)}  # seconds, MB resident
DAY_SPAN = 30


def bench_url(server_url: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{BENCH_DB}"


def recreate_database(server_url: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database(server_url: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infusioncenter.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(PROJECT_ROOT))
    import django

    django.setup()


def seed(encounters: int) -> dict:
    """Seeds one center with `encounters` approved encounters (half exported); returns the figures."""
    import datetime
    import random
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from accounts.models import Center, Membership
    from charges.models import ChargeLine, ChargeSet, ChargeSetTransition, Encounter
    from review.models import ExportBatch, ExportBatchItem

    call_command("migrate", verbosity=0)
    rng = random.Random(2025)  # noqa: S311 - bench data
    codes = [
        ("96413", Decimal("330"), "0335", "administration"),
        ("96415", Decimal("70"), "0335", "administration"),
        ("96375", Decimal("55"), "0260", "administration"),
        ("96365", Decimal("180"), "0260", "administration"),
        ("96366", Decimal("45"), "0260", "administration"),
        ("J9312", Decimal("95"), "0636", "drug"),
        ("J1200", Decimal("2"), "0636", "drug"),
        ("J7050", Decimal("1"), "0258", "drug"),
    ]
    payers = ["medicare", "aetna", "bcbs", "medicaid"]
    start = datetime.date(2025, 3, 1)
    with transaction.atomic():
        center = Center.objects.create(
            name="Bench Infusion",
            slug="bench",
            time_zone="America/New_York",
            setting="facility",
            default_payer="medicare",
            place_of_service="22",
            billing_entity="hospital",
            department_status="on_campus",
        )
        users = get_user_model()
        nurse = users.objects.create_user("bench-nurse")
        coder = users.objects.create_user("bench-coder")
        manager = users.objects.create_user("bench-manager")
        for user, role in ((nurse, "nurse"), (coder, "coder"), (manager, "manager")):
            Membership.objects.create(user=user, center=center, role=role)
        encs = Encounter.objects.bulk_create(
            Encounter(
                center=center,
                patient_mrn=f"MRN{i:07d}",
                patient_name=f"Bench, Patient {i}" if i % 500 else f"=cmd|' /C calc'!A{i}",
                visit_number=f"V{i:08d}",
                service_date=start + datetime.timedelta(days=i % DAY_SPAN),
                setting="facility",
                payer=payers[i % len(payers)],
                billing_entity="hospital",
                department_status="on_campus",
                diagnoses=["C83.30", "Z51.11"][: 1 + i % 2],
                status="signed",
                created_by=nurse,
                signed_by=nurse,
            )
            for i in range(encounters)
        )
        sets = ChargeSet.objects.bulk_create(
            ChargeSet(encounter=e, status="exported" if e.pk % 2 else "approved") for e in encs
        )
        ChargeSetTransition.objects.bulk_create(
            ChargeSetTransition(charge_set=s, from_status="ready", to_status="approved", actor=coder) for s in sets
        )
        lines = []
        for s, e in zip(sets, encs, strict=True):
            for position in range(rng.randint(4, 8)):
                code, price, revenue, kind = codes[(position + e.pk) % len(codes)]
                units = rng.randint(1, 4) if kind == "administration" else rng.randint(1, 90)
                lines.append(
                    ChargeLine(
                        charge_set=s,
                        position=position,
                        code=code,
                        units=units,
                        modifiers=["JZ"] if code == "J9312" else [],
                        service_date=e.service_date,
                        unit_price=price,
                        amount=price * units,
                        revenue_code=revenue,
                        kind=kind,
                    )
                )
        lines = ChargeLine.objects.bulk_create(lines, batch_size=5000)
        exported = [ln for ln in lines if ln.charge_set.status == "exported"]
        batch = ExportBatch.objects.create(
            center=center, number=1, closes_date=start, created_by=manager, line_count=len(exported)
        )
        ExportBatchItem.objects.bulk_create(
            (
                ExportBatchItem(batch=batch, charge_line=ln, charge_set_id=ln.charge_set_id, position=i)
                for i, ln in enumerate(exported)
            ),
            batch_size=5000,
        )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"center_id": center.pk, "encounters": len(encs), "lines": len(lines), "exported": len(exported)}


def measure(kind: str, center_id: int) -> dict:
    """Runs one export (in this child process) and returns its figures."""
    import datetime

    from reports.exports.csv import stream_csv
    from reports.exports.xlsx import write_xlsx
    from reports.selectors import iter_rows, report_lines

    lines = report_lines(
        center_ids=[center_id], date_from=datetime.date(2025, 1, 1), date_to=datetime.date(2025, 12, 31)
    )
    counted = 0

    def rows():
        nonlocal counted
        for row in iter_rows(lines):
            counted += 1
            yield row

    import resource

    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"report.{kind}"
        started = time.perf_counter()
        cpu_started = time.process_time()
        if kind == "csv":
            with open(target, "w", encoding="utf-8", newline="") as fh:
                for text in stream_csv(rows()):
                    fh.write(text)
        else:
            write_xlsx(rows(), target)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        size = target.stat().st_size
    return {
        "kind": kind,
        "rows": counted,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "baseline_mb": round(baseline_mb, 1),
        "bytes": size,
    }


def run_child(kind: str, center_id: int, database_url: str, encounters: int = 0) -> dict:
    """Runs `--child kind` in a fresh interpreter. The parent never imports Django and holds no seeded
    rows, so the child's ru_maxrss (which counts pages shared at fork time) is the child's own."""
    proc = subprocess.Popen(  # noqa: S603 - our interpreter and this file
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            "--center",
            str(center_id),
            "--encounters",
            str(encounters),
            "--database-url",
            database_url,
        ],
        stdout=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    output = proc.stdout.read().decode() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{kind} export failed:\n{output}")
    figures = json.loads(output.strip().splitlines()[-1])
    figures["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: kilobytes
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encounters", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_SERVER_URL", DEFAULT_SERVER))
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--child", choices=["seed", "csv", "xlsx"], help=argparse.SUPPRESS)
    parser.add_argument("--center", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        setup_django(args.database_url)
        result = seed(args.encounters) if args.child == "seed" else measure(args.child, args.center)
        print(json.dumps(result))
        return 0

    if args.encounters < 1:
        parser.error("--encounters must be at least 1")
    url = bench_url(args.database_url)
    print(f"creating {BENCH_DB} and seeding {args.encounters:,} encounters ...", flush=True)
    recreate_database(args.database_url)
    try:
        started = time.perf_counter()
        figures = run_child("seed", 0, url, encounters=args.encounters)
        print(
            f"seeded {figures['encounters']:,} encounters, {figures['lines']:,} lines "
            f"({figures['exported']:,} in a batch) in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        load = os.getloadavg()[0]
        print(
            f"load average {load:.1f} on {os.cpu_count()} cores"
            + (" (busy: wall times inflated)" if load > 1.5 else "")
        )
        print(
            f"{'export':<6} {'rows':>8} {'wall s':>8} {'CPU s':>8} {'peak MB':>8} {'base MB':>8} {'file MB':>8}  target"
        )
        for kind in ("csv", "xlsx"):
            result = run_child(kind, figures["center_id"], url)
            max_s, max_mb = TARGETS[kind]
            met = result["seconds"] < max_s and result["peak_rss_mb"] < max_mb
            print(
                f"{kind:<6} {result['rows']:>8,} {result['seconds']:>8.2f} {result['cpu_seconds']:>8.2f} "
                f"{result['peak_rss_mb']:>8.1f} {result['baseline_mb']:>8.1f} {result['bytes'] / 1e6:>8.1f}  "
                f"< {max_s:g} s and < {max_mb:g} MB: {'met' if met else 'NOT met'} (wall)",
                flush=True,
            )
    finally:
        if not args.keep:
            drop_database(args.database_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
