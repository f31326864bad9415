"""Django's `flush`, which also empties the append-only audit table, but only on a test database.

Django's test cases (pytest-django's `transaction=True` tests) reset the database between tests with
`call_command("flush")`, which resolves to this command. On a test database the flush runs under the
audit maintenance flag (audit.maintenance), so the append-only triggers let it through; anywhere else
the triggers refuse it while audit rows exist and the flush fails with the database's message.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as DjangoFlushCommand

from audit.maintenance import flush_maintenance, is_test_database


class Command(DjangoFlushCommand):
    help = DjangoFlushCommand.help + " Audit rows are removed only on a test database."

    def handle(self, **options):
        database = options["database"]
        if not is_test_database(database):
            try:
                return super().handle(**options)
            except CommandError as exc:
                if "append-only" in str(exc.__cause__ or ""):
                    raise CommandError(
                        "flush refused: the audit trail is append-only and holds rows; audit rows are removed "
                        "only by `manage.py purge --before DATE` once past the retention period"
                    ) from exc
                raise
        with flush_maintenance(database):
            return super().handle(**options)
