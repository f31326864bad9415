"""Writing the audit trail. Services call these; views never write audit rows themselves.

- `audit_record(...)`: one row in the caller's transaction (rolled back with it: AUD-04).
- `audit_record_durable(...)`: one row that survives the caller's rollback (failed sign-in, denials).
- `audit_viewer_opened(...)`: the audit viewer's own audit row.
- `audit_purge(...)`: the retention purge (audit rows and voided drafts), sealed and itself audited.

Request id, client address, user id and task id come from `audit.context`.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import json
import logging
import math
import re
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from audit import chain, context
from audit.maintenance import maintenance
from audit.models import AuditEvent, Outcome

logger = logging.getLogger(__name__)

ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
#: Keys refused in `detail`: the audit trail holds opaque references, never patient identity.
PHI_KEYS = frozenset(
    {"patient_name", "mrn", "medical_record_number", "dob", "date_of_birth", "birth_date", "first_name", "last_name"}
)
#: Default retention of audit rows: 7 years (2557 days covers two leap days).
DEFAULT_RETENTION_DAYS = 2557
#: Voided drafts are purged by the charges app when it provides this function.
PURGE_VOIDED_DRAFTS = "charges.retention.purge_voided_drafts"


class AuditError(ValueError):
    """A refused audit call (bad action, outcome or detail); the message says what is wrong."""


class RetentionWindowError(AuditError):
    """`purge --before` names a date inside the retention window."""


# --- building a row ---------------------------------------------------------------------------------


def _clean_text(value: Any, limit: int) -> str:
    return "" if value is None else str(value).replace("\x00", "")[:limit]


def _normalize_detail(value: Any, path: str = "detail") -> Any:
    """JSON-safe copy (what the database gives back): floats become text, no NUL characters."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            key = _clean_text(key, 200)
            if key.lower() in PHI_KEYS:
                raise AuditError(f"{path} must not hold patient data (key {key!r})")
            out[key] = _normalize_detail(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_normalize_detail(item, path) for item in items]
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AuditError(f"{path} holds a non-finite number")
        return repr(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except TypeError:
        raise AuditError(f"{path} holds a {type(value).__name__}, which is not JSON-serializable") from None


def _object_fields(obj: Any) -> dict[str, Any]:
    meta = getattr(obj, "_meta", None)
    object_type = f"{meta.app_label}.{meta.model_name}" if meta is not None else type(obj).__name__.lower()
    fields: dict[str, Any] = {"object_type": object_type, "object_id": str(getattr(obj, "pk", "") or "")}
    for attribute in ("audit_patient_ref", "patient_ref"):
        ref = getattr(obj, attribute, None)
        if callable(ref):
            ref = ref()
        if ref:
            fields["patient_ref"] = str(ref)
            break
    center_id = getattr(obj, "center_id", None)
    if isinstance(center_id, int):
        fields["center_id"] = center_id
    return fields


def _build(
    *,
    action: str,
    actor: Any,
    obj: Any,
    object_type: str,
    object_id: Any,
    patient_ref: str,
    center_id: int | None,
    outcome: str,
    detail: Any,
) -> AuditEvent:
    if not isinstance(action, str) or len(action) > 100 or not ACTION_PATTERN.match(action):
        raise AuditError(f"audit action {action!r} must be dotted lower-case text, e.g. 'encounter.create'")
    if outcome not in Outcome.values:
        raise AuditError(f"audit outcome {outcome!r} must be one of {Outcome.values}")
    if detail is not None and not isinstance(detail, dict):
        raise AuditError("audit detail must be a dict (or None)")
    if obj is not None:
        derived = _object_fields(obj)
        object_type = object_type or derived["object_type"]
        object_id = object_id or derived["object_id"]
        patient_ref = patient_ref or derived.get("patient_ref", "")
        center_id = center_id if center_id is not None else derived.get("center_id")
    if center_id is not None:
        try:
            center_id = int(center_id)
        except (TypeError, ValueError):
            raise AuditError(f"audit center_id {center_id!r} must be an integer") from None

    bound = context.current()
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    user_id = user.pk if user is not None else bound.user_id
    username = user.get_username() if user is not None else ""
    if user is None and user_id is not None:
        from django.contrib.auth import get_user_model

        username = get_user_model()._default_manager.filter(pk=user_id).values_list("username", flat=True).first()
        if username is None:  # the bound user is not in this database: record nobody rather than fail
            user_id, username = None, ""
    return AuditEvent(
        user_id=user_id,
        username=_clean_text(username, 150),
        action=action,
        object_type=_clean_text(object_type, 100),
        object_id=_clean_text(object_id, 64),
        patient_ref=_clean_text(patient_ref, 64),
        center_id=center_id,
        outcome=outcome,
        detail=_normalize_detail(detail or {}),
        client_address=_clean_text(bound.client_address, 64),
        request_id=_clean_text(bound.request_id, 64),
        task_id=_clean_text(bound.task_id, 64),
    )


# --- writing ----------------------------------------------------------------------------------------


def audit_record(
    *,
    action: str,
    actor: Any = None,
    obj: Any = None,
    object_type: str = "",
    object_id: Any = "",
    patient_ref: str = "",
    center_id: int | None = None,
    outcome: str = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Writes one audit row in the caller's transaction (a rollback removes it with the change).

    `obj` fills object_type (`app_label.model_name`), object_id (pk), and patient_ref / center_id
    from its `audit_patient_ref` (or `patient_ref`) and `center_id` attributes. On PostgreSQL the
    chain lock is held until the caller's transaction ends: write the audit row last.
    """
    event = _build(
        action=action,
        actor=actor,
        obj=obj,
        object_type=object_type,
        object_id=object_id,
        patient_ref=patient_ref,
        center_id=center_id,
        outcome=outcome,
        detail=detail,
    )
    return chain.append(event, router.db_for_write(AuditEvent))


def _in_caller_transaction(using: str) -> bool:
    """True inside an atomic block other than the ones Django's TestCase wraps each test in."""
    return any(not getattr(block, "_from_testcase", False) for block in connections[using].atomic_blocks)


def _append_on_own_connection(event: AuditEvent, using: str) -> AuditEvent:
    """Writes `event` on a separate connection (its own session and transaction) and commits it."""
    from django.db import connections as handler

    own = handler.create_connection(using)
    try:
        own.ensure_connection()
        own.set_autocommit(False)
        with own.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '10s'")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [chain.CHAIN_LOCK_KEY])
            cursor.execute(
                "SELECT sequence, hash FROM audit_auditevent ORDER BY sequence DESC LIMIT 1",
            )
            last = cursor.fetchone()
        event.sequence = (last[0] if last else 0) + 1
        event.prev_hash = last[1] if last else chain.GENESIS_HASH
        event.timestamp = timezone.now()
        event.hash = chain.compute_hash(event.prev_hash, event)
        fields = [f for f in AuditEvent._meta.concrete_fields if f.attname != "id"]
        columns = ", ".join(own.ops.quote_name(f.column) for f in fields)
        values = [f.get_db_prep_save(getattr(event, f.attname), own) for f in fields]
        with own.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO audit_auditevent ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) RETURNING id",  # noqa: S608 - column names from the model
                values,
            )
            event.pk = cursor.fetchone()[0]
        own.commit()
        event._state.adding = False
        event._state.db = using
        return event
    except BaseException:
        try:
            own.rollback()
        except DatabaseError:
            pass
        raise
    finally:
        own.close()


def audit_record_durable(**kwargs: Any) -> AuditEvent:
    """Like `audit_record`, but the row survives a rollback of the caller's transaction.

    For events that must be kept whatever happens next: failed sign-in, refused access.
    - No caller transaction: the row is committed at once (`transaction.atomic(durable=True)`).
    - Inside a caller's transaction on PostgreSQL: the row is written and committed on a second
      connection (its own session), unless this transaction already holds the chain lock (it wrote
      an audit row), where the second connection would wait on us forever.
    - Otherwise (SQLite, which has a single writer; or the lock case) the row is written in the
      caller's transaction and a warning is logged: it is kept only if that transaction commits.
    See docs/adr/0002-audit-hash-chain.md.
    """
    using = router.db_for_write(AuditEvent)
    event = _build(
        action=kwargs.pop("action"),
        actor=kwargs.pop("actor", None),
        obj=kwargs.pop("obj", None),
        object_type=kwargs.pop("object_type", ""),
        object_id=kwargs.pop("object_id", ""),
        patient_ref=kwargs.pop("patient_ref", ""),
        center_id=kwargs.pop("center_id", None),
        outcome=kwargs.pop("outcome", Outcome.SUCCESS),
        detail=kwargs.pop("detail", None),
    )
    if kwargs:
        raise TypeError(f"audit_record_durable() got unexpected argument(s) {sorted(kwargs)}")
    if not _in_caller_transaction(using):
        with transaction.atomic(using=using, durable=True):
            return chain.append(event, using)
    connection = connections[using]
    if connection.vendor == "postgresql" and not chain.holds_chain_lock(using):
        try:
            return _append_on_own_connection(event, using)
        except DatabaseError:
            logger.warning("durable audit write on a second connection failed; writing in the caller's transaction")
    else:
        logger.warning(
            "durable audit event %s written inside the caller's transaction (%s): kept only if it commits",
            event.action,
            "SQLite has a single writer" if connection.vendor == "sqlite" else "the chain lock is held",
        )
    return chain.append(event, using)


def audit_viewer_opened(*, actor: Any, filters: dict[str, Any], page: int, results: int) -> AuditEvent:
    """The audit viewer's own row: who looked at the trail, with which filters."""
    return audit_record(
        action="audit.view",
        actor=actor,
        object_type="audit.auditevent",
        detail={"filters": filters, "page": page, "results": results},
    )


# --- retention ------------------------------------------------------------------------------------


def retention_days() -> int:
    value = getattr(settings, "AUDIT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AuditError(f"AUDIT_RETENTION_DAYS must be a positive number of days (got {value!r})")
    return value


def latest_purge_date(today: datetime.date | None = None) -> datetime.date:
    """The latest `--before` date allowed: everything before it is older than the retention."""
    today = today or timezone.now().astimezone(datetime.UTC).date()
    return today - datetime.timedelta(days=retention_days())


@dataclasses.dataclass(frozen=True, slots=True)
class PurgeResult:
    before: datetime.date
    dry_run: bool
    audit_rows: int
    boundary_sequence: int | None
    voided_drafts: Any  # what charges.retention.purge_voided_drafts returned; None if unavailable
    seal_sequence: int | None = None


def _purge_voided_drafts(before: datetime.date, dry_run: bool) -> Any:
    """Calls the charges app's purge when it exists (no static import: audit knows nothing of charges)."""
    module_path = PURGE_VOIDED_DRAFTS.rpartition(".")[0]
    try:
        importlib.import_module(module_path)
    except ModuleNotFoundError as exc:
        if exc.name and (module_path == exc.name or module_path.startswith(exc.name + ".")):
            return None  # the module is not there (yet): nothing to purge
        raise  # the module is there but broken: say so
    try:
        purge_drafts = import_string(PURGE_VOIDED_DRAFTS)
    except ImportError:
        return None
    return purge_drafts(before=before, dry_run=dry_run)


def audit_purge(*, before: datetime.date, dry_run: bool = False, actor: Any = None) -> PurgeResult:
    """Removes audit rows (and voided drafts) dated before `before` (UTC), once past the retention.

    Only a prefix of the chain is removed (rows older than `before` up to the first younger row),
    after appending a seal row (`audit.purge`) recording the boundary, so `verify_audit` starts from
    it. The seal is this command's audit row. `dry_run` counts and writes nothing.
    """
    if not isinstance(before, datetime.date) or isinstance(before, datetime.datetime):
        raise AuditError("the purge date must be a calendar date (YYYY-MM-DD)")
    latest = latest_purge_date()
    if before > latest:
        raise RetentionWindowError(
            f"{before.isoformat()} is inside the retention window of {retention_days()} days: "
            f"the latest date allowed is {latest.isoformat()}"
        )
    using = router.db_for_write(AuditEvent)
    cutoff = datetime.datetime.combine(before, datetime.time.min, tzinfo=datetime.UTC)
    with transaction.atomic(using=using):
        chain.lock_chain(using)
        events = AuditEvent.objects.using(using)
        first_kept = (
            events.filter(timestamp__gte=cutoff).order_by("sequence").values_list("sequence", flat=True).first()
        )
        doomed = events.filter(timestamp__lt=cutoff)
        if first_kept is not None:
            doomed = doomed.filter(sequence__lt=first_kept)
        boundary = doomed.order_by("-sequence").values_list("sequence", "hash").first()
        count = doomed.count()
        drafts = _purge_voided_drafts(before, dry_run)
        if dry_run:
            return PurgeResult(before, True, count, boundary[0] if boundary else None, drafts)
        detail: dict[str, Any] = {
            "before": before.isoformat(),
            "retention_days": retention_days(),
            "audit_rows": count,
            "voided_drafts": drafts,
            "seal": {"sequence": boundary[0], "hash": boundary[1]} if boundary else None,
        }
        seal = audit_record(action=chain.SEAL_ACTION, actor=actor, object_type="audit.auditevent", detail=detail)
        if boundary:
            with maintenance(using):
                deleted, _ = events.filter(sequence__lte=boundary[0]).delete()
            if deleted != count:
                raise DatabaseError(f"purge expected to delete {count} audit rows but deleted {deleted}")
    return PurgeResult(before, False, count, boundary[0] if boundary else None, drafts, seal.sequence)
