"""`python manage.py verify_audit`: walks the audit hash chain and reports the first broken row.

Exit 0 with the number of rows when intact (from the genesis row, or from the boundary sealed by the
retention purge); exit 1 on a break or when the append-only triggers are missing.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, DatabaseError

from audit.chain import verify_chain
from audit.maintenance import missing_triggers


class Command(BaseCommand):
    help = "Verifies the audit trail's hash chain; exit 1 and the first broken row if it was altered."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="Database alias (default: default).")

    def handle(self, *args, **options):
        using = options["database"]
        try:
            report = verify_chain(using)
            missing = missing_triggers(using)
        except DatabaseError as exc:
            self.stderr.write(f"verify_audit: cannot read the audit trail: {exc}".strip())
            sys.exit(1)
        if not report.ok:
            self.stderr.write(
                f"audit chain BROKEN at row #{report.broken_sequence}: {report.problem} "
                f"(last good row: #{report.head_sequence or '-'}, {report.rows - 1} rows verified before it)"
            )
            sys.exit(1)
        if missing:
            self.stderr.write(
                f"audit chain intact ({report.rows} rows) but the append-only triggers are missing: "
                f"{', '.join(sorted(missing))} (run the audit migrations again)"
            )
            sys.exit(1)
        if report.rows == 0:
            self.stdout.write("audit chain OK: 0 rows (empty)")
            return
        start = f"sealed boundary #{report.sealed_boundary}" if report.sealed_boundary is not None else "genesis"
        self.stdout.write(
            f"audit chain OK: {report.rows} rows, #{report.first_sequence}..#{report.head_sequence} "
            f"from {start}; head hash {report.head_hash}"
        )
