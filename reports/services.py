"""State changes of the reports app: closing a day, re-sending a batch, recording downloads.

Every change writes its audit row in the same transaction (`audit_record`, last); side effects
outside the database (the HL7 outbox) happen on commit.

    day_close(center, date, actor)   -> coder review's `export_batch_create` moves approved, not yet
                                        exported lines into a numbered batch (REL-04); we then
                                        write its CSV, XLSX and HL7 files with their SHA-256 and
                                        record who and when. Nothing new -> no batch, no files.
    batch_resend(batch, reason, actor) -> an explicit, audited re-send of an exported batch (the
                                        view asks for the password first, SEC-10).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.access import has_role
from accounts.models import Center
from accounts.roles import Role
from reports.exports.csv import stream_csv
from reports.exports.hl7 import batch_hl7, write_atomically
from reports.exports.xlsx import write_xlsx
from reports.models import BatchFile, CloseOutcome, CloseSource, DayClose, FileKind, ReSend

logger = logging.getLogger(__name__)

CLOSE_ROLES = (Role.MANAGER, Role.ADMIN)
EXTENSIONS = {FileKind.CSV: "csv", FileKind.XLSX: "xlsx", FileKind.HL7: "hl7"}


class ReportsError(Exception):
    """Base of the named domain errors of the reports app; the message is shown to the user."""


class CloseNotAllowed(ReportsError):
    """The actor is not a manager (or admin) of the center."""


class ResendRefused(ReportsError):
    """No reason given, or the batch has no recorded files."""


def files_dir() -> Path:
    return Path(getattr(settings, "REPORTS_FILES_DIR", None) or Path(settings.BASE_DIR) / "var" / "exports")


def outbox_dir() -> Path | None:
    value = getattr(settings, "HL7_OUTBOX_DIR", "") or ""
    return Path(value) if str(value).strip() else None


def _audit(**kwargs: Any) -> None:
    from audit.services import audit_record

    audit_record(**kwargs)


def _check_role(actor: Any, center: Center) -> None:
    if actor is not None and not has_role(actor, center, *CLOSE_ROLES):
        raise CloseNotAllowed("Only a manager of this center can close its day or re-send its batches.")


# --- writing the files ------------------------------------------------------------------------------


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def batch_relative_path(batch: Any, kind: str) -> str:
    return f"{batch.center.slug}/batch-{batch.number:06d}.{EXTENSIONS[kind]}"


def batch_hl7_text(batch: Any) -> str:
    """The HL7 file of a batch. Deterministic (the message time is the batch's creation time), so a
    re-send can prove it sends what was sent the first time."""
    from reports.selectors import batch_lines, code_descriptions, iter_rows

    rows = list(iter_rows(batch_lines(batch)))
    descriptions = code_descriptions(row["code"] for row in rows)
    for row in rows:
        row["description"] = descriptions.get(row["code"], "")
    return batch_hl7(rows, batch_number=batch.number, sending_facility=batch.center.slug, created_at=batch.created_at)


def _write_kind(batch: Any, kind: str, target: Path) -> None:
    from reports.selectors import batch_lines, iter_rows

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix="." + EXTENSIONS[kind], dir=target.parent)
    os.close(fd)
    try:
        if kind == FileKind.CSV:
            with open(tmp_name, "w", encoding="utf-8", newline="") as fh:
                for line in stream_csv(iter_rows(batch_lines(batch))):
                    fh.write(line)
        elif kind == FileKind.XLSX:
            write_xlsx(iter_rows(batch_lines(batch)), tmp_name)
        else:
            with open(tmp_name, "wb") as fh:
                fh.write(batch_hl7_text(batch).encode("utf-8"))
        os.replace(tmp_name, target)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def write_batch_files(*, batch: Any, actor: Any, day_close: DayClose | None) -> list[BatchFile]:
    """Writes the CSV, XLSX and HL7 files of a batch and records each with its checksum."""
    root = files_dir()
    records = []
    for kind in (FileKind.CSV, FileKind.XLSX, FileKind.HL7):
        relative = batch_relative_path(batch, kind)
        target = root / relative
        _write_kind(batch, kind, target)
        record = BatchFile(
            batch=batch,
            day_close=day_close,
            kind=kind,
            path=relative,
            sha256=_sha256_of(target),
            size=target.stat().st_size,
            created_by=actor,
        )
        record.full_clean()
        record.save()
        records.append(record)
    return records


def _deliver_hl7(batch_id: int, filename: str) -> str:
    """Copies the stored HL7 file of a batch into the outbox (temp file, then rename)."""
    directory = outbox_dir()
    if directory is None:
        return ""
    record = BatchFile.objects.select_related("batch").get(batch_id=batch_id, kind=FileKind.HL7)
    content = (files_dir() / record.path).read_bytes()
    return str(write_atomically(directory, filename, content))


def _deliver_on_commit(batch_id: int, filename: str) -> None:
    def deliver() -> None:
        try:
            _deliver_hl7(batch_id, filename)
        except Exception as exc:  # noqa: BLE001 - logged with ids only; the batch files stay recorded
            logger.error("hl7 outbox delivery failed", extra={"batch_id": batch_id, "error": type(exc).__name__})
            _record_outbox_failure(batch_id, type(exc).__name__)

    transaction.on_commit(deliver)


def _record_outbox_failure(batch_id: int, error: str) -> None:
    """A failed outbox delivery shows on the dashboard (with a Re-send link) until the batch is re-sent."""
    from review.models import ExportBatch

    try:
        batch = ExportBatch.objects.get(pk=batch_id)
        day_close_failed(
            center_id=batch.center_id, date=batch.closes_date, error=f"HL7 outbox: {error}", batch_id=batch.pk
        )
    except Exception as exc:  # noqa: BLE001 - never raise from an on-commit hook
        logger.error("could not record an outbox failure", extra={"batch_id": batch_id, "error": type(exc).__name__})


# --- closing a day ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CloseResult:
    day_close: DayClose
    batch: Any | None

    @property
    def exported(self) -> bool:
        return self.batch is not None


@transaction.atomic
def day_close(
    *,
    center: Center,
    date: datetime.date,
    actor: Any,
    source: str = CloseSource.MANUAL,
    task_id: str = "",
) -> CloseResult:
    """Closes `date` at `center`: one new batch with every approved line not yet exported (late
    approvals of earlier days and credit/rebill lines included), its files and their checksums.
    Closing again with nothing new records the attempt and exports nothing."""
    from review.services import export_batch_create

    _check_role(actor, center)
    # one close of a center at a time: the second waits, then finds nothing new
    center = Center.objects.select_for_update().get(pk=center.pk)
    batch = export_batch_create(center=center, date=date, actor=actor)
    if batch is None:
        close = DayClose.objects.create(
            center=center,
            service_date=date,
            outcome=CloseOutcome.NOTHING_NEW,
            source=source,
            closed_by=actor,
            task_id=task_id,
        )
        _audit(
            action="export.day_close",
            actor=actor,
            obj=close,
            center_id=center.pk,
            detail={"date": date.isoformat(), "outcome": close.outcome, "source": source},
        )
        return CloseResult(day_close=close, batch=None)

    close = DayClose.objects.create(
        center=center,
        service_date=date,
        batch=batch,
        outcome=CloseOutcome.EXPORTED,
        source=source,
        closed_by=actor,
        lines=batch.items.count(),
        task_id=task_id,
    )
    files = write_batch_files(batch=batch, actor=actor, day_close=close)
    _deliver_on_commit(batch.pk, f"{center.slug}-batch-{batch.number:06d}.hl7")
    _audit(
        action="export.day_close",
        actor=actor,
        obj=close,
        center_id=center.pk,
        detail={
            "date": date.isoformat(),
            "outcome": close.outcome,
            "source": source,
            "batch_id": batch.pk,
            "batch_number": batch.number,
            "lines": close.lines,
            "files": {f.kind: f.sha256 for f in files},
        },
    )
    return CloseResult(day_close=close, batch=batch)


def day_close_failed(
    *, center_id: int, date: datetime.date, error: str, task_id: str = "", batch_id: int | None = None
) -> DayClose:
    """Records a failed close (shown on the dashboard until a later close of that day succeeds, or,
    for a failed HL7 outbox delivery of `batch_id`, until that batch is re-sent)."""
    with transaction.atomic():
        close = DayClose.objects.create(
            center_id=center_id,
            service_date=date,
            batch_id=batch_id,
            outcome=CloseOutcome.FAILED,
            source=CloseSource.SCHEDULE,
            error=error[:200],
            task_id=task_id,
        )
        _audit(
            action="export.day_close",
            obj=close,
            center_id=center_id,
            outcome="failure",
            detail={"date": date.isoformat(), "error": close.error},
        )
    return close


# --- re-send ----------------------------------------------------------------------------------------


@transaction.atomic
def batch_resend(*, batch: Any, reason: str, actor: Any) -> ReSend:
    """Re-sends a batch: checks the stored files against their checksums, re-delivers the HL7 file
    (rebuilt from the immutable lines if the stored one is missing or changed) and records it."""
    reason = (reason or "").strip()
    if not reason:
        raise ResendRefused("A reason is required to re-send a batch.")
    _check_role(actor, batch.center)
    if actor is None:
        raise CloseNotAllowed("A re-send needs a signed-in manager.")
    records = list(BatchFile.objects.filter(batch=batch))
    if not records:
        raise ResendRefused("This batch has no recorded files; close the day first.")
    root = files_dir()
    checksums_ok = True
    for record in records:
        path = root / record.path
        if not path.exists() or _sha256_of(path) != record.sha256:
            checksums_ok = False
            if record.kind == FileKind.HL7:
                content = batch_hl7_text(batch).encode("utf-8")
                write_atomically(path.parent, path.name, content)
    resend = ReSend(batch=batch, reason=reason, sent_by=actor, checksums_ok=checksums_ok)
    resend.full_clean()
    resend.save()
    target = outbox_dir()
    if target is not None:
        resend.outbox_path = str(target / f"{batch.center.slug}-batch-{batch.number:06d}-resend-{resend.pk}.hl7")
        resend.save(update_fields=["outbox_path"])
        _deliver_on_commit(batch.pk, Path(resend.outbox_path).name)
    _audit(
        action="export.resend",
        actor=actor,
        obj=resend,
        center_id=batch.center_id,
        detail={"batch_id": batch.pk, "batch_number": batch.number, "checksums_ok": checksums_ok},
    )
    return resend


# --- downloads --------------------------------------------------------------------------------------


def report_download_record(
    *, actor: Any, kind: str, center_ids: list[int], date_from: datetime.date, date_to: datetime.date
) -> None:
    """Audits a download of the daily charge report (one row per center, in its own transaction)."""
    with transaction.atomic():
        for center_id in center_ids:
            _audit(
                action="report.download",
                actor=actor,
                object_type="reports.report",
                center_id=center_id,
                detail={"kind": kind, "from": date_from.isoformat(), "to": date_to.isoformat()},
            )


def batch_file_download_record(*, actor: Any, batch: Any, kind: str) -> None:
    with transaction.atomic():
        _audit(
            action="export.download",
            actor=actor,
            obj=batch,
            center_id=batch.center_id,
            detail={"batch_id": batch.pk, "batch_number": batch.number, "kind": kind},
        )
