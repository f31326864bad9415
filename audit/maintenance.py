"""The maintenance flag under which the database lets audit rows be deleted or updated.

Only two callers set it: the retention purge (`audit.services.audit_purge`) and the test flush
(`audit/management/commands/flush.py`, which sets it only on a test database). The flag is scoped to
the surrounding transaction: a rollback clears it, so it can never leak to the next statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

#: Trigger names per vendor (migration 0002); verify_audit checks they exist and are enabled.
TRIGGERS = {
    "sqlite": {"audit_event_no_update", "audit_event_no_delete"},
    "postgresql": {"audit_event_no_update_delete", "audit_event_no_truncate"},
}


def _flag_on(connection) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('audit.maintenance', 'on', true)")
            return True
        cursor.execute("INSERT OR IGNORE INTO audit_maintenance (id) VALUES (1)")
        return cursor.rowcount == 1


def _flag_off(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('audit.maintenance', 'off', true)")
        else:
            cursor.execute("DELETE FROM audit_maintenance")


@contextmanager
def maintenance(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Inside: the audit table accepts UPDATE, DELETE (and TRUNCATE). Runs in a transaction."""
    connection = connections[using]
    if connection.vendor not in TRIGGERS:
        raise RuntimeError(f"the audit maintenance flag exists for SQLite and PostgreSQL, not {connection.vendor}")
    with transaction.atomic(using=using):
        owner = _flag_on(connection)
        yield
        if owner or connection.vendor == "postgresql":
            _flag_off(connection)


@contextmanager
def flush_maintenance(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """The flag for the test flush only: set and cleared with plain statements around the flush.

    Unlike `maintenance()` it opens no transaction of its own, so Django's flush runs exactly as it
    does without the audit app (its own `atomic`, no extra savepoint): a live-server thread sharing
    the in-memory SQLite connection sees the same transaction structure as with plain Django. The
    flag is session-wide for that moment (PostgreSQL `SET`, SQLite a committed row), which is why
    only `audit/management/commands/flush.py` uses it, and only on a test database.
    """
    connection = connections[using]
    if connection.vendor not in TRIGGERS:
        raise RuntimeError(f"the audit maintenance flag exists for SQLite and PostgreSQL, not {connection.vendor}")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET audit.maintenance = 'on'")
        else:
            cursor.execute("INSERT OR IGNORE INTO audit_maintenance (id) VALUES (1)")
    try:
        yield
    finally:
        # In a broken caller transaction the flag was set in it, and its rollback removes it.
        if not (connection.in_atomic_block and connection.needs_rollback):
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("RESET audit.maintenance")
                else:
                    cursor.execute("DELETE FROM audit_maintenance")


def missing_triggers(using: str = DEFAULT_DB_ALIAS) -> set[str]:
    """Names of the append-only triggers that are absent (or disabled, on PostgreSQL)."""
    connection = connections[using]
    expected = TRIGGERS.get(connection.vendor, set())
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditevent'")
        elif connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass "
                "AND NOT tgisinternal AND tgenabled <> 'D'"
            )
        else:
            return set()
        present = {row[0] for row in cursor.fetchall()}
    return expected - present


def is_test_database(using: str = DEFAULT_DB_ALIAS) -> bool:
    """True only inside Django's test environment on the test database (never on a real one)."""
    from django.core import mail

    if not (getattr(settings, "TESTING", False) or hasattr(mail, "outbox")):
        return False
    connection = connections[using]
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return True
    name = str(connection.settings_dict.get("NAME") or "")
    test_name = (connection.settings_dict.get("TEST") or {}).get("NAME")
    return bool(name) and (name == test_name or Path(name).name.startswith("test_"))
