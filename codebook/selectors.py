"""Reads of the codebook: the tables as seed text, the database rules book, payer notes.

``codebook_tables()`` renders the database rows back into exactly the shape
``charges.engine.snapshot.read_tables`` gives for the seed files (same tables, columns and
canonical cell text), so ``build_book(codebook_tables(), version)`` is the database's rules book
and the engine never knows where its rules came from.

``rules_book()`` caches that book per codebook revision: every codebook change (signal on
save/delete, and the services' bulk paths) gives ``CodebookRevision`` a new random token in the
same transaction, and the cache is keyed by the token read from the database, so it is correct
across processes (gunicorn workers, Celery) on SQLite and PostgreSQL alike, and a change rolled
back never leaves its book behind under a token that a later change could reuse.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterable

from charges.engine import snapshot
from codebook.cells import to_cell
from codebook.models import CODEBOOK_MODELS, CodebookRevision, PayerNote

_cache_lock = threading.Lock()
_cache: dict[str, snapshot.RulesBook] = {}


def codebook_tables() -> dict[str, list[dict[str, str]]]:
    """Every codebook table as ``{table: [{column: cell text}, ...]}``, rows in load order."""
    tables: dict[str, list[dict[str, str]]] = {}
    for model in CODEBOOK_MODELS:
        columns = model.COLUMNS
        lookups = ["payer__key" if column.kind == "payer" else column.field for column in columns]
        kinds = ["text" if column.kind == "payer" else column.kind for column in columns]
        names = [column.name for column in columns]
        tables[model.TABLE] = [
            {name: to_cell(value, kind) for name, kind, value in zip(names, kinds, values, strict=True)}
            for values in model.objects.order_by("pk").values_list(*lookups)
        ]
    return tables


def codebook_revision() -> tuple[str, str]:
    """(token, version) of the database codebook; the token changes with every change."""
    found = CodebookRevision.objects.filter(pk=1).values_list("token", "version").first()
    return found if found is not None else ("", "")


def codebook_version() -> str:
    """The version string the codebook was loaded from (the seed's ``VERSION``)."""
    _token, version = codebook_revision()
    return version or snapshot.read_version(snapshot.SEED_DIR)


def codebook_snapshot_id() -> str:
    """Names the exact codebook state a derivation used: ``<version>@<token>`` (security.md INT-04)."""
    token, _version = codebook_revision()
    return f"{codebook_version()}@{token or 'empty'}"


def rules_book() -> snapshot.RulesBook:
    """The database's ``RulesBook``, rebuilt only when the codebook changed since the last call."""
    token, version = codebook_revision()
    version = version or snapshot.read_version(snapshot.SEED_DIR)
    cache_key = f"{token}:{version}"
    with _cache_lock:
        book = _cache.get(cache_key)
    if book is not None and token:
        return book
    book = snapshot.build_book(codebook_tables(), version)
    if token:
        with _cache_lock:
            _cache.clear()  # one book per process: the newest
            _cache[cache_key] = book
    return book


def clear_rules_book_cache() -> None:
    with _cache_lock:
        _cache.clear()


def payer_notes_for(payer_key: str, codes: Iterable[str], on: datetime.date):
    """Notes of payer ``payer_key`` in force on ``on``: those on the whole payer and those on ``codes``.

    Ordered whole-payer notes first, then by code; each note's ``payer`` is the version it was
    written on (the note belongs to the payer key).
    """
    codes = sorted({code for code in codes if code})
    return (
        PayerNote.objects.in_force(on)
        .filter(payer__key=payer_key, code__in=["", *codes])
        .select_related("payer")
        .order_by("code", "pk")
    )
