"""Every change to the codebook goes through one of these functions, with its audit row.

* ``codebook_load_seed``: the seed files (read by the engine's one loader,
  ``charges.engine.snapshot.read_tables``) into the database. Idempotent; rows an admin edited,
  versioned or deleted are kept unless ``force`` (audited as ``codebook.load_force``).
* ``codebook_save_row`` / ``codebook_delete_row``: admin saves of rows whose period has not started.
* ``codebook_new_version``: the only way to change a row whose period has started: it closes the
  row (``valid_to`` = the day before) and opens the next version.
* ``codebook_close_row``: end a row without a successor.
* ``codebook_import_csv`` / ``codebook_export_csv``: one model's rows as a CSV file with the seed's
  columns. An import validates every row first and imports nothing if any row is bad.

Each writes its ``AuditEvent`` in the same transaction (``audit.services.audit_record``) and bumps
``CodebookRevision`` so ``codebook.selectors.rules_book()`` rebuilds the rules book.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import datetime
import io
import uuid
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from charges.engine import snapshot
from codebook.cells import neutralize_formula, unneutralize_formula
from codebook.models import CODEBOOK_MODELS, CodebookRevision, EffectiveDated, Payer, PayerNote
from codebook.rows import ColumnError, cells_to_values, key_from_cells, key_from_values, row_cells

MAX_IMPORT_BYTES = 10 * 1024 * 1024
LOADER_REASON = "load_codebook"  # history change reason of the rows the seed loader writes
MAX_REPORTED_ERRORS = 20


class CodebookError(Exception):
    """A codebook change that cannot be made; the message says why, for a person to read."""


class RowStarted(CodebookError):
    """The row's period has started: it may have been charged and is changed only by a new version."""


class ImportRejected(CodebookError):
    """A CSV file was refused whole; ``errors`` lists "row N, column C: ..." messages."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = errors[:MAX_REPORTED_ERRORS]
        more = len(errors) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        super().__init__(f"nothing was imported: {text}")


# ---------------------------------------------------------------------------------------------
# revision and audit


def bump_revision(*, version: str | None = None) -> None:
    """Give the codebook a new revision token (call inside the transaction that changed it)."""
    values: dict[str, Any] = {"token": uuid.uuid4().hex, "changed_at": timezone.now()}
    if version is not None:
        values["version"] = version
    if not CodebookRevision.objects.filter(pk=1).update(**values):
        CodebookRevision.objects.update_or_create(pk=1, defaults=values)


def _object_type(model: type[EffectiveDated]) -> str:
    return f"codebook.{model._meta.model_name}"


def _audit(action: str, *, actor=None, obj=None, model=None, detail: dict | None = None) -> None:
    from audit.services import audit_record  # the audit app is a lower layer; imported late to keep startup light

    if obj is not None:
        audit_record(
            action=action,
            actor=actor,
            obj=obj,
            object_type=_object_type(type(obj)),
            object_id=str(obj.pk),
            detail=detail,
        )
    else:
        audit_record(
            action=action, actor=actor, object_type=_object_type(model) if model else "codebook", detail=detail
        )


def _validation_text(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
    return " ".join(error.messages)


# ---------------------------------------------------------------------------------------------
# the seed


@dataclasses.dataclass
class TableCounts:
    created: int = 0
    unchanged: int = 0
    kept: int = 0
    updated: int = 0
    deleted: int = 0


@dataclasses.dataclass
class LoadResult:
    version: str
    force: bool
    tables: dict[str, TableCounts]

    def total(self, name: str) -> int:
        return sum(getattr(counts, name) for counts in self.tables.values())

    def changed(self) -> bool:
        return any(self.total(name) for name in ("created", "updated", "deleted"))

    def summary(self) -> str:
        names = ["created", "updated", "unchanged", "kept"] + (["deleted"] if self.force else [])
        return ", ".join(f"{self.total(name)} {name}" for name in names)


def _deleted_keys(model: type[EffectiveDated]) -> set[tuple]:
    """Keys of which a row was deleted other than by the loader (in the admin, a shell)."""
    deleted = model.history.filter(history_type="-").exclude(history_change_reason=LOADER_REASON)
    if model is PayerNote:
        payer_keys = dict(Payer.history.values_list("id", "key"))
        return {(payer_keys.get(h.payer_id, ""), h.code, h.note) for h in deleted}
    return {tuple(getattr(h, name) for name in model.KEY) for h in deleted}


def _seed_values(model, cells, number, resolve_payer) -> dict[str, Any]:
    try:
        return cells_to_values(model, cells, resolve_payer=resolve_payer)
    except ColumnError as error:
        raise CodebookError(f"{model.TABLE}.csv row {number}, {error}") from None


def _check_row(model, instance, number) -> None:
    try:
        instance.clean_fields()
        instance.clean_period()
        instance.clean_rules()  # overlaps are checked on the whole table afterwards
    except ValidationError as error:
        raise CodebookError(f"{model.TABLE}.csv row {number}: {_validation_text(error)}") from None


def codebook_load_seed(*, force: bool, actor=None, directory: Path | str | None = None) -> LoadResult:
    """Load the seed files into the database.

    Without ``force``, per seed row (key and ``valid_from``):

    * equal to the database row: unchanged (running the load twice changes nothing);
    * the database row differs and nobody changed it since the loader wrote it (a newer seed):
      updated to the seed; if the admin changed, versioned or closed it: kept;
    * not in the database: created, unless an admin deleted that key, or the admin's versions of the
      key already cover some of its days (kept).

    With ``force``: every table is made equal to the seed (rows not in the seed are deleted, differing
    rows are overwritten) and the load is audited as ``codebook.load_force``. Rows the loader writes
    carry the history change reason ``load_codebook``; that is how an admin's change is told apart.
    """
    seed_dir = Path(directory) if directory is not None else snapshot.SEED_DIR
    if not seed_dir.is_dir():
        raise CodebookError(f"no seed directory at {seed_dir}")
    try:
        tables = snapshot.read_tables(seed_dir)
        version = snapshot.read_version(seed_dir)
        snapshot.build_book(tables, version)  # the seed must make a book before it reaches the database
    except snapshot.SeedError as error:
        raise CodebookError(f"the seed in {seed_dir} is not valid: {error}") from None
    except OSError as error:
        raise CodebookError(f"cannot read the seed in {seed_dir}: {error}") from None

    result = LoadResult(version=version, force=force, tables={})
    with transaction.atomic():
        if force:
            # Deletions first, notes before payers (a note points at a payer version).
            for model in reversed(CODEBOOK_MODELS):
                result.tables[model.TABLE] = TableCounts()
                seed_keys = {(key_from_cells(model, c), c.get("valid_from", "").strip()) for c in tables[model.TABLE]}
                for row in model.objects.all():
                    if (row.key_values(), row.valid_from.isoformat()) not in seed_keys:
                        row._change_reason = LOADER_REASON
                        try:
                            row.delete()
                        except ProtectedError:
                            raise CodebookError(
                                f"{model.TABLE}: {row} is not in the seed but payer notes still point at it; "
                                "end or delete those notes first"
                            ) from None
                        result.tables[model.TABLE].deleted += 1
        for model in CODEBOOK_MODELS:
            counts = result.tables.setdefault(model.TABLE, TableCounts())
            _load_table(model, tables[model.TABLE], force=force, counts=counts, actor=actor)
        bump_revision(version=version)
        if force:
            _audit("codebook.load_force", actor=actor, detail=_load_detail(result, seed_dir))
        elif result.changed():
            _audit("codebook.load", actor=actor, detail=_load_detail(result, seed_dir))
    return result


def _load_detail(result: LoadResult, seed_dir: Path) -> dict:
    return {
        "version": result.version,
        "directory": str(seed_dir),
        "tables": {name: dataclasses.asdict(counts) for name, counts in result.tables.items()},
    }


def _user_or_none(actor):
    return actor if getattr(actor, "pk", None) is not None and hasattr(actor, "get_username") else None


def _as_loaded(model: type[EffectiveDated]) -> set[int]:
    """Ids of rows nobody changed since the loader wrote them (their latest history record is the loader's)."""
    latest: dict[int, str | None] = {}
    for row_id, reason in model.history.order_by("history_date", "history_id").values_list(
        "id", "history_change_reason"
    ):
        latest[row_id] = reason
    return {row_id for row_id, reason in latest.items() if reason == LOADER_REASON}


def _period_clash(periods: dict, own, start: datetime.date, end: datetime.date | None) -> bool:
    """Would [start, end] share a day with another version of the key (``periods``: id -> (start, end))?"""
    for other, (other_start, other_end) in periods.items():
        if other == own:
            continue
        if (end is None or other_start <= end) and (other_end is None or other_end >= start):
            return True
    return False


def _load_table(model, seed_rows: list[dict[str, str]], *, force: bool, counts: TableCounts, actor=None) -> None:
    """One table of the seed into the database (see codebook_load_seed for the rules)."""
    existing: dict[tuple, dict[str, EffectiveDated]] = defaultdict(dict)
    periods: dict[tuple, dict] = defaultdict(dict)  # key -> {row id or seed row number: (start, end)}
    queryset = model.objects.select_related("payer") if model is PayerNote else model.objects.all()
    for row in queryset:
        existing[row.key_values()][row.valid_from.isoformat()] = row
        periods[row.key_values()][row.pk] = (row.valid_from, row.valid_to)
    deleted = set() if force else _deleted_keys(model)
    as_loaded = set() if force else _as_loaded(model)
    seen: set[tuple] = set()
    to_create: list[EffectiveDated] = []
    payers: dict[str, list[Payer]] = defaultdict(list)
    for payer in Payer.objects.all():
        payers[payer.key].append(payer)

    def resolve_payer(key: str, day: datetime.date | None) -> Payer | None:
        versions = sorted(payers.get(key, []), key=lambda p: p.valid_from)
        for payer in versions:
            if day is not None and payer.in_force_on(day):
                return payer
        return versions[-1] if versions else None

    for number, cells in enumerate(seed_rows, start=2):
        key = key_from_cells(model, cells)
        start = cells.get("valid_from", "").strip()
        if (key, start) in seen:
            raise CodebookError(f"{model.TABLE}.csv row {number}: a second row for {key} from {start}")
        seen.add((key, start))
        versions = existing.get(key, {})
        current = versions.get(start)
        if current is not None and row_cells(current) == {c.name: cells[c.name] for c in model.COLUMNS}:
            counts.unchanged += 1
            continue
        if not force:
            if current is not None and current.pk not in as_loaded:
                counts.kept += 1  # changed in the admin since it was loaded
                continue
            if current is None and not versions and key in deleted:
                counts.kept += 1  # deleted in the admin
                continue
        values = _seed_values(model, cells, number, resolve_payer)
        own = current.pk if current is not None else f"seed-{number}"
        if not force and _period_clash(periods[key], own, values["valid_from"], values["valid_to"]):
            counts.kept += 1  # the admin's versions of this key cover these days
            continue
        periods[key][own] = (values["valid_from"], values["valid_to"])
        if current is not None:
            for field, value in values.items():
                setattr(current, field, value)
            _check_row(model, current, number)
            current._change_reason = LOADER_REASON
            current.save()
            counts.updated += 1
        else:
            instance = model(**values)
            _check_row(model, instance, number)
            to_create.append(instance)
    if to_create:
        # One INSERT per batch (history rows too); bulk_create sends no post_save, the caller bumps the revision.
        bulk_create_with_history(
            to_create,
            model,
            batch_size=500,
            default_user=_user_or_none(actor),
            default_change_reason=LOADER_REASON,
        )
        counts.created += len(to_create)
    _check_overlaps(model)


def _check_overlaps(model: type[EffectiveDated]) -> None:
    """After a load: no key may have two versions sharing a day (a seed or force mistake)."""
    by_key: dict[tuple, list[EffectiveDated]] = defaultdict(list)
    queryset = model.objects.select_related("payer") if model is PayerNote else model.objects.all()
    for row in queryset:
        by_key[row.key_values()].append(row)
    for key, rows in by_key.items():
        problem = _overlap_in(rows)
        if problem:
            raise CodebookError(f"{model.TABLE}: {' / '.join(map(str, key))} {problem}")


def _overlap_in(rows: list) -> str | None:
    ordered = sorted(rows, key=lambda r: r.valid_from)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.valid_to is None or before.valid_to >= after.valid_from:
            end = before.valid_to.isoformat() if before.valid_to else "open-ended"
            return (
                f"has overlapping versions: {before.valid_from.isoformat()} to {end} "
                f"and one from {after.valid_from.isoformat()}"
            )
    return None


# ---------------------------------------------------------------------------------------------
# single rows (the admin)


def _stored(row: EffectiveDated) -> EffectiveDated | None:
    if row.pk is None:
        return None
    return type(row).objects.select_for_update().filter(pk=row.pk).first()


@transaction.atomic
def codebook_save_row(*, row: EffectiveDated, actor, today: datetime.date | None = None) -> EffectiveDated:
    """Create a row, or change one whose period has not started yet (validated, audited)."""
    today = today or timezone.localdate()
    stored = _stored(row)
    if stored is not None and stored.has_started(today):
        raise RowStarted(
            f"{stored} has been in force since {stored.valid_from.isoformat()}: it is not edited in place; "
            "use 'new version' to change it from a date on."
        )
    row.full_clean()
    changes = None
    if stored is not None:
        before, after = row_cells(stored), row_cells(row)
        changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
    row.save()
    _verify_change_keeps_the_book()
    bump_revision()
    _audit(
        "codebook.change" if stored is not None else "codebook.create",
        actor=actor,
        obj=row,
        detail={"table": row.TABLE, "row": row_cells(row)}
        if changes is None
        else {"table": row.TABLE, "changes": changes},
    )
    return row


@transaction.atomic
def codebook_delete_row(*, row: EffectiveDated, actor, today: datetime.date | None = None) -> None:
    """Delete a row whose period has not started (a started row is closed, never deleted)."""
    today = today or timezone.localdate()
    stored = _stored(row)
    if stored is None:
        return
    if stored.has_started(today):
        raise RowStarted(f"{stored} has been in force since {stored.valid_from.isoformat()}: close it instead.")
    detail = {"table": stored.TABLE, "row": row_cells(stored)}
    pk = stored.pk
    try:
        stored.delete()
    except ProtectedError:
        raise CodebookError(f"{stored} has payer notes pointing at it: move or delete them first") from None
    stored.pk = pk
    _verify_change_keeps_the_book()
    bump_revision()
    _audit("codebook.delete", actor=actor, obj=stored, detail=detail)


@transaction.atomic
def codebook_new_version(*, row: EffectiveDated, valid_from: datetime.date, actor, **changes: Any) -> EffectiveDated:
    """Close ``row`` on the day before ``valid_from`` and open its next version with ``changes``.

    The new version ends where the old one ended (open-ended if it was). Key fields cannot change:
    a different code is a different row.
    """
    model = type(row)
    stored = _stored(row)
    if stored is None:
        raise CodebookError("only a saved row can get a new version")
    fields = {column.field for column in model.COLUMNS} - {"valid_from", "valid_to"}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise CodebookError(f"{model._meta.verbose_name} has no column {', '.join(unknown)}")
    fixed = getattr(model, "VERSION_KEY", model.KEY)
    for name in fixed:
        if name in changes and changes[name] != getattr(stored, name):
            raise CodebookError(f"{name} cannot change in a new version: a different {name} is a different row")
    if valid_from <= stored.valid_from:
        raise CodebookError(
            f"the new version must start after {stored.valid_from.isoformat()}, when the current one started"
        )
    if stored.valid_to is not None and valid_from > stored.valid_to:
        raise CodebookError(
            f"the current version ended on {stored.valid_to.isoformat()}: "
            "a version starting later is a new row, not a new version"
        )
    successor = model(
        **{f.attname: getattr(stored, f.attname) for f in model._meta.concrete_fields if not f.primary_key}
    )
    for name, value in changes.items():
        setattr(successor, name, value)
    successor.valid_from = valid_from
    successor.valid_to = stored.valid_to
    stored.valid_to = valid_from - datetime.timedelta(days=1)
    try:
        stored.full_clean()
        stored.save()
        successor.full_clean()
    except ValidationError as error:
        raise CodebookError(_validation_text(error)) from None
    successor.save()
    _verify_change_keeps_the_book()
    bump_revision()
    before, after = row_cells(stored), row_cells(successor)
    _audit(
        "codebook.new_version",
        actor=actor,
        obj=successor,
        detail={
            "table": model.TABLE,
            "closed": {"id": stored.pk, "valid_to": stored.valid_to.isoformat()},
            "valid_from": successor.valid_from.isoformat(),
            "changes": {
                name: [before[name], after[name]]
                for name in after
                if before[name] != after[name] and name not in ("valid_from", "valid_to")
            },
        },
    )
    return successor


@transaction.atomic
def codebook_close_row(*, row: EffectiveDated, valid_to: datetime.date, actor) -> EffectiveDated:
    """End an open (or later-ending) row on ``valid_to`` without opening a successor."""
    stored = _stored(row)
    if stored is None:
        raise CodebookError("only a saved row can be closed")
    if valid_to < stored.valid_from:
        raise CodebookError(f"a row cannot end before it starts ({stored.valid_from.isoformat()})")
    if stored.valid_to is not None and valid_to > stored.valid_to:
        raise CodebookError(f"the row already ends on {stored.valid_to.isoformat()}")
    previous = stored.valid_to
    stored.valid_to = valid_to
    try:
        stored.full_clean()
    except ValidationError as error:
        raise CodebookError(_validation_text(error)) from None
    stored.save()
    _verify_change_keeps_the_book()
    bump_revision()
    _audit(
        "codebook.close",
        actor=actor,
        obj=stored,
        detail={"table": stored.TABLE, "valid_to": [previous.isoformat() if previous else "", valid_to.isoformat()]},
    )
    return stored


# ---------------------------------------------------------------------------------------------
# CSV import and export


def codebook_export_csv(*, model: type[EffectiveDated], rows=None) -> str:
    """The rows (all of the model's by default) as CSV text with the seed's columns and cell text.

    Cells a spreadsheet would run as a formula get a leading quote (security.md REL-05); the import
    takes it off again, so an exported file imports back unchanged.
    """
    if rows is None:
        rows = model.objects.all()
    if model is PayerNote:
        rows = rows.select_related("payer")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.name for column in model.COLUMNS])
    for row in rows.order_by("pk"):
        cells = row_cells(row)
        writer.writerow([neutralize_formula(cells[column.name]) for column in model.COLUMNS])
    return buffer.getvalue()


def _read_csv(model: type[EffectiveDated], file: IO) -> list[tuple[int, dict[str, str]]]:
    """The file's rows as (row number, {column: cell text}); row 1 is the header.

    Row numbers count records as a spreadsheet shows them. Checks, in order: size, UTF-8, CSV
    syntax, the header (exactly the seed's columns), the cells per row, and every cell with the seed
    loader's own checks (``snapshot.read_table``): a file the import accepts is one the loader accepts.
    """
    raw = file.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        raise ImportRejected([f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB"])
    if isinstance(raw, str):
        text = raw.removeprefix("\ufeff")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = raw[: error.start].count(b"\n") + 1
            raise ImportRejected([f"row {line}: the file is not UTF-8 text"]) from None
    if "\x00" in text:
        raise ImportRejected(["the file is not a CSV text file (it contains NUL bytes)"])
    records: list[list[str]] = []
    try:
        for record in csv.reader(io.StringIO(text, newline="")):
            records.append(record)
    except csv.Error as error:
        raise ImportRejected([f"row {len(records) + 1}: the file is not valid CSV ({error})"]) from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise ImportRejected(["row 1: the file is empty; the first row must name the columns"])
    header = [cell.strip() for cell in records[0]]
    expected = [column.name for column in model.COLUMNS]
    errors = []
    missing = [name for name in expected if name not in header]
    unknown = [name for name in header if name not in expected]
    repeated = sorted({name for name in header if header.count(name) > 1})
    errors += [f"row 1, column {name}: the column is missing" for name in missing]
    errors += [f"row 1, column {name or '(empty)'}: not a column of {model.TABLE}" for name in unknown]
    errors += [f"row 1, column {name}: the column appears twice" for name in repeated]
    if errors:
        raise ImportRejected(errors)
    rows = []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        if len(record) != len(header):
            errors.append(f"row {number}: {len(record)} cells for {len(header)} columns")
            continue
        cells = {name: unneutralize_formula(cell) for name, cell in zip(header, record, strict=True)}
        problem = _seed_check(model, header, cells)
        if problem:
            errors.append(f"row {number}, {problem}")
            continue
        rows.append((number, cells))
    if errors:
        raise ImportRejected(errors)
    return rows


def _seed_check(model: type[EffectiveDated], header: list[str], cells: dict[str, str]) -> str | None:
    """One row through the seed loader's cell checks; returns "column C: reason" or None."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerow([cells[name] for name in header])
    buffer.seek(0)
    try:
        snapshot.read_table(buffer, model.TABLE)
    except snapshot.SeedError as error:
        text = str(error)
        where = text.find("column ")
        return text[where:] if where >= 0 else text
    return None


@dataclasses.dataclass
class ImportResult:
    table: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def summary(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def codebook_import_csv(
    *, model: type[EffectiveDated], file: IO, actor, today: datetime.date | None = None
) -> ImportResult:
    """Import one model's CSV file (the seed's columns): all of it, or nothing.

    A row whose key and ``valid_from`` match an existing row updates it; any other row is a new row.
    A row whose period has started may only get an end date (``valid_to``) this way; other changes
    to it are refused (use a new row from a later date and close the old one in the same file).
    Every row is validated (cell syntax, field rules, no overlapping versions of a key, the whole
    codebook still building a rules book) before anything is kept; the first problems are reported
    as "row N, column C: ...".
    """
    today = today or timezone.localdate()
    if model not in CODEBOOK_MODELS:
        raise CodebookError(f"{model.__name__} is not a codebook table")
    rows = _read_csv(model, file)
    errors: list[str] = []
    existing: dict[tuple, dict[datetime.date, EffectiveDated]] = defaultdict(dict)
    queryset = model.objects.select_related("payer") if model is PayerNote else model.objects.all()
    for row in queryset:
        existing[row.key_values()][row.valid_from] = row
    planned: dict[tuple, dict[datetime.date, tuple[int | None, EffectiveDated]]] = defaultdict(dict)
    result = ImportResult(table=model.TABLE)
    work: list[tuple[int, EffectiveDated, bool]] = []  # (row number, instance, is_update)
    for number, cells in rows:
        try:
            values = cells_to_values(model, cells)
        except ColumnError as error:
            errors.append(f"row {number}, {error}")
            continue
        key = key_from_values(model, values)
        start = values["valid_from"]
        if start in planned[key]:
            errors.append(
                f"row {number}, column valid_from: row {planned[key][start][0]} already gives "
                f"{' / '.join(map(str, key))} from {start.isoformat()}"
            )
            continue
        current = existing.get(key, {}).get(start)
        if current is not None:
            before = row_cells(current)
            instance = copy.copy(current)
            for field, value in values.items():
                setattr(instance, field, value)
            after = row_cells(instance)
            changed = [name for name in after if after[name] != before[name]]
            if not changed:
                result.unchanged += 1
                planned[key][start] = (number, instance)
                continue
            if current.has_started(today) and changed != ["valid_to"]:
                first = next(name for name in changed if name != "valid_to")
                errors.append(
                    f"row {number}, column {first}: {current} has been in force since {start.isoformat()}; "
                    "it is not changed in place: add a row from a later valid_from and end this one with valid_to"
                )
                continue
            work.append((number, instance, True))
        else:
            instance = model(**values)
            work.append((number, instance, False))
        planned[key][start] = (number, instance)
        columns_by_field = {column.field: column.name for column in model.COLUMNS}
        try:
            instance.clean_fields()
            instance.clean_period()
            instance.clean_rules()  # overlaps are checked on the whole file below
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                column = columns_by_field.get(field, field)
                errors.append(f"row {number}, column {column}: {' '.join(messages)}")
    # No two versions of one key may share a day once the file is applied.
    for key, starts in planned.items():
        merged = {**{start: (None, row) for start, row in existing.get(key, {}).items()}, **starts}
        ordered = sorted(merged.items())
        for (start_a, (number_a, row_a)), (start_b, (number_b, _row_b)) in zip(ordered, ordered[1:], strict=False):
            if row_a.valid_to is None or row_a.valid_to >= start_b:
                number = number_b if number_b is not None else number_a
                column = "valid_from" if number_b is not None else "valid_to"
                end = row_a.valid_to.isoformat() if row_a.valid_to else "open-ended"
                errors.append(
                    f"row {number}, column {column}: {' / '.join(map(str, key))} would have overlapping versions "
                    f"({start_a.isoformat()} to {end} and one from {start_b.isoformat()}); "
                    "end the earlier one with valid_to the day before"
                )
    if errors:
        raise ImportRejected(sorted(set(errors), key=_row_order))
    try:
        with transaction.atomic():
            for _number, instance, is_update in work:
                instance.save()
                if is_update:
                    result.updated += 1
                else:
                    result.created += 1
            _verify_codebook_builds(model)
            bump_revision()
            _audit(
                "codebook.import",
                actor=actor,
                model=model,
                detail={"table": model.TABLE, **dataclasses.asdict(result), "rows": len(rows)},
            )
    except snapshot.SeedError as error:
        raise ImportRejected([f"the codebook would not build with this file: {error}"]) from None
    except ValidationError as error:
        raise ImportRejected([_validation_text(error)]) from None
    return result


def _row_order(message: str) -> tuple[int, str]:
    parts = message.split(",", 1)[0].split()
    try:
        return (int(parts[1]), message)
    except (IndexError, ValueError):
        return (0, message)


class _DryRun(Exception):
    pass


def codebook_check_save(*, row: EffectiveDated) -> str | None:
    """Would saving ``row`` keep the rules book building? A dry run in a rolled-back transaction.

    The admin's form calls it so that a row which would break the book (an add-on pointing at an
    unknown code, no default payer left) is a form error, not a failed save.
    """
    try:
        with transaction.atomic():
            copy.copy(row).save()
            _verify_codebook_builds(None)
            raise _DryRun
    except _DryRun:
        return None
    except snapshot.SeedError as error:
        return f"the codebook would not build with this row: {error}"


def _verify_change_keeps_the_book() -> None:
    """Inside a single-row change's transaction: refuse a change after which the rules book would not build."""
    try:
        _verify_codebook_builds(None)
    except snapshot.SeedError as error:
        raise CodebookError(f"the codebook would not build with this change: {error}") from None


def _verify_codebook_builds(model: type[EffectiveDated] | None) -> None:
    """Inside the import's transaction: the whole codebook must still make a rules book."""
    from codebook.selectors import codebook_tables, codebook_version

    snapshot.build_book(codebook_tables(), codebook_version())
