"""The hash chain over audit rows (security.md AUD-03, docs/adr/0002-audit-hash-chain.md).

    hash = sha256(prev_hash + canonical_json(row))

`canonical_json` covers every column but `id`, `prev_hash` and `hash`: sorted keys, no spaces, ASCII,
the timestamp in UTC with microseconds. Appends are serialized so two writers can never attach to
the same head: on PostgreSQL a transaction-level advisory lock (held until the caller's transaction
ends); on SQLite the database has a single writer (settings open every transaction with BEGIN
IMMEDIATE). Whatever happens, the unique constraints on `sequence` and `prev_hash` make a fork
impossible: the second writer fails instead.

The retention purge deletes a prefix of the chain and appends a seal row (action `audit.purge`) whose
detail records the boundary (`seal.sequence`, `seal.hash`: the last deleted row); `verify_chain`
accepts a first row that continues a sealed boundary.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

from audit.models import GENESIS_HASH, AuditEvent

#: Key of the PostgreSQL advisory lock that serializes chain appends ("AUDIT" in ASCII).
CHAIN_LOCK_KEY = 0x4155444954
#: Action of the seal row written by the retention purge.
SEAL_ACTION = "audit.purge"
#: Version of the canonical form; part of every hashed row.
CANONICAL_VERSION = 1

HASHED_FIELDS = (
    "sequence",
    "timestamp",
    "user_id",
    "username",
    "action",
    "object_type",
    "object_id",
    "patient_ref",
    "center_id",
    "outcome",
    "detail",
    "client_address",
    "request_id",
    "task_id",
)


def _utc(value: datetime.datetime) -> str:
    if timezone.is_naive(value):
        raise ValueError("audit timestamps must be timezone-aware (UTC)")
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")


def canonical_json(event: AuditEvent) -> str:
    row: dict[str, Any] = {"v": CANONICAL_VERSION}
    for name in HASHED_FIELDS:
        value = getattr(event, name)
        row[name] = _utc(value) if name == "timestamp" else value
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + canonical_json(event)).encode("ascii")).hexdigest()


def lock_chain(using: str) -> None:
    """Serializes chain appends until the current transaction ends (PostgreSQL advisory lock)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("lock_chain() must run inside a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def holds_chain_lock(using: str) -> bool:
    """True when this connection's transaction already holds the chain lock (PostgreSQL only)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
            "AND granted AND classid = %s AND objid = %s AND objsubid = 1)",
            [CHAIN_LOCK_KEY >> 32, CHAIN_LOCK_KEY & 0xFFFFFFFF],
        )
        return bool(cursor.fetchone()[0])


def head(using: str) -> tuple[int, str]:
    """(sequence, hash) of the last row, or (0, GENESIS_HASH) for an empty chain."""
    last = AuditEvent.objects.using(using).order_by("-sequence").values_list("sequence", "hash").first()
    return last if last is not None else (0, GENESIS_HASH)


def append(event: AuditEvent, using: str) -> AuditEvent:
    """Links `event` (unsaved, content filled in) to the head of the chain and inserts it."""
    with transaction.atomic(using=using, savepoint=False):
        lock_chain(using)
        last_sequence, last_hash = head(using)
        event.sequence = last_sequence + 1
        event.prev_hash = last_hash
        event.timestamp = timezone.now()  # taken under the lock: time order follows chain order
        event.hash = compute_hash(last_hash, event)
        event.save(using=using, force_insert=True)
    return event


@dataclasses.dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    rows: int  # rows checked (up to and including the broken one)
    first_sequence: int | None = None
    head_sequence: int | None = None
    head_hash: str = ""
    sealed_boundary: int | None = None  # the purge boundary the chain starts after, if any
    broken_sequence: int | None = None
    problem: str = ""


def _seal_boundaries(using: str) -> dict[int, str]:
    seals: dict[int, str] = {}
    for detail in AuditEvent.objects.using(using).filter(action=SEAL_ACTION).values_list("detail", flat=True):
        seal = detail.get("seal") if isinstance(detail, dict) else None
        if isinstance(seal, dict) and isinstance(seal.get("sequence"), int) and isinstance(seal.get("hash"), str):
            seals[seal["sequence"]] = seal["hash"]
    return seals


def verify_chain(using: str = "default", chunk_size: int = 2000) -> ChainReport:
    """Walks the chain in sequence order and stops at the first broken row."""
    seals = _seal_boundaries(using)
    rows = 0
    first: int | None = None
    boundary: int | None = None
    prev: AuditEvent | None = None

    def broken(row: AuditEvent, problem: str) -> ChainReport:
        return ChainReport(False, rows, first, prev.sequence if prev else None, prev.hash if prev else "",
                           boundary, row.sequence, problem)  # fmt: skip

    for row in AuditEvent.objects.using(using).order_by("sequence").iterator(chunk_size=chunk_size):
        rows += 1
        if prev is None:
            first = row.sequence
            if row.sequence == 1:
                if row.prev_hash != GENESIS_HASH:
                    return broken(row, "the first row does not start from the genesis hash")
            elif row.sequence - 1 in seals:
                boundary = row.sequence - 1
                if seals[boundary] != row.prev_hash:
                    return broken(row, f"prev_hash does not match the hash sealed by the purge at #{boundary}")
            else:
                return broken(row, f"rows #1..#{row.sequence - 1} are missing and no purge seal records that boundary")
        elif row.sequence != prev.sequence + 1:
            return broken(row, f"rows #{prev.sequence + 1}..#{row.sequence - 1} are missing (deleted)")
        elif row.prev_hash != prev.hash:
            return broken(row, f"prev_hash does not match the hash of row #{prev.sequence}")
        if compute_hash(row.prev_hash, row) != row.hash:
            return broken(row, "content altered: the stored hash does not match the row")
        prev = row
    return ChainReport(
        True, rows, first, prev.sequence if prev else None, prev.hash if prev else "", boundary, None, ""
    )
