"""`python manage.py purge --before DATE [--dry-run]`: the documented retention purge.

Removes audit rows dated before DATE (UTC) and voided drafts (when the charges app provides
`charges.retention.purge_voided_drafts`), only once past the retention (settings
`AUDIT_RETENTION_DAYS`, default 7 years). Leaves a seal row that verify_audit starts from; the seal
is the purge's own audit row. `--dry-run` lists the counts and changes nothing.
"""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from audit.services import AuditError, audit_purge, latest_purge_date, retention_days


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(f"--before must be a date like 2018-01-31 (got {value!r})") from None


class Command(BaseCommand):
    help = "Purges audit rows and voided drafts older than the retention period (default 7 years)."

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="Remove what is dated before this day (YYYY-MM-DD, UTC).")
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be removed.")

    def handle(self, *args, **options):
        before = _date(options["before"])
        dry_run = options["dry_run"]
        try:
            result = audit_purge(before=before, dry_run=dry_run)
        except AuditError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(f"purge failed, nothing was removed: {exc}".strip()) from None
        drafts = "not available (no charges.retention)" if result.voided_drafts is None else result.voided_drafts
        verb = "would remove" if dry_run else "removed"
        self.stdout.write(f"audit rows before {before.isoformat()}: {verb} {result.audit_rows}")
        self.stdout.write(f"voided drafts before {before.isoformat()}: {verb} {drafts}")
        if dry_run:
            self.stdout.write(
                f"dry run: nothing changed (retention {retention_days()} days; latest date allowed "
                f"{latest_purge_date().isoformat()})"
            )
        elif result.boundary_sequence is not None:
            self.stdout.write(
                f"sealed the chain at #{result.boundary_sequence} (seal row #{result.seal_sequence}); "
                "run verify_audit to check"
            )
        else:
            self.stdout.write(f"nothing to remove; the purge is recorded as row #{result.seal_sequence}")
