"""Reads of the reports app: the report rows, the batches, the dashboard figures (HackSoft selectors).

The report reads the database in chunks (`.values().iterator(chunk_size=...)`, a server-side cursor
on PostgreSQL) and turns each line into a plain row dict (`reports.rows`), so a 60,000-line export
never holds the lines in memory.
"""

from __future__ import annotations

import datetime
import statistics
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from accounts.access import centers_for
from accounts.models import Center
from accounts.roles import Role
from charges.models import Administration, ChargeLine, ChargeSetTransition, EncounterStatus
from charges.workflow import Status
from reports.models import CloseOutcome, DayClose
from reports.rows import CREDIT, ReportRow, Totals, signed

CHUNK_SIZE = 2000
#: statuses shown in the report by default (void sets carry no charge)
REPORT_STATUSES = (Status.DRAFT, Status.READY, Status.ON_HOLD, Status.APPROVED, Status.EXPORTED)
MANAGER_ROLES = (Role.MANAGER, Role.ADMIN)

_VALUES = (
    "pk",
    "service_date",
    "code",
    "units",
    "modifiers",
    "revenue_code",
    "transaction_type",
    "amount",
    "unit_price",
    "charge_set__status",
    "charge_set__encounter_id",
    "charge_set__encounter__patient_mrn",
    "charge_set__encounter__patient_name",
    "charge_set__encounter__visit_number",
    "charge_set__encounter__setting",
    "charge_set__encounter__payer",
    "charge_set__encounter__diagnoses",
    "export_item__batch__number",
    "charge_set_id",
)


def manager_centers(user: Any) -> QuerySet[Center]:
    """The centers whose reports the user may see (manager or admin there)."""
    return centers_for(user, *MANAGER_ROLES).order_by("name")


def approvers_of(set_ids: Iterable[int]) -> dict[int, str]:
    """charge set id -> username of its latest approval (one query for a chunk of sets)."""
    found: dict[int, str] = {}
    rows = (
        ChargeSetTransition.objects.filter(charge_set_id__in=list(set_ids), to_status=Status.APPROVED)
        .order_by("charge_set_id", "created_at", "pk")
        .values_list("charge_set_id", "actor__username")
    )
    for set_id, username in rows:
        found[set_id] = username or ""  # the latest approval wins
    return found


def report_lines(
    *,
    center_ids: Iterable[int],
    date_from: datetime.date,
    date_to: datetime.date,
    statuses: Iterable[str] = REPORT_STATUSES,
) -> QuerySet[ChargeLine]:
    """Charge lines of the centers with a date of service in [date_from, date_to], in report order."""
    lines = ChargeLine.objects.filter(
        charge_set__encounter__center_id__in=list(center_ids),
        service_date__gte=date_from,
        service_date__lte=date_to,
        charge_set__status__in=list(statuses),
    )
    return lines.order_by("service_date", "charge_set__encounter_id", "charge_set_id", "position", "pk")


def status_counts(lines: QuerySet[ChargeLine]) -> dict[str, int]:
    """Lines per charge set status."""
    return {
        row["charge_set__status"]: row["n"]
        for row in lines.order_by().values("charge_set__status").annotate(n=Count("pk"))
    }


def transaction_counts(lines: QuerySet[ChargeLine]) -> dict[str, tuple[int, int, Decimal]]:
    """transaction type (charge/credit) -> (lines, stored units, stored amount), both positive."""
    return {
        row["transaction_type"]: (row["n"], row["u"] or 0, row["a"] or Decimal("0"))
        for row in lines.order_by().values("transaction_type").annotate(n=Count("pk"), u=Sum("units"), a=Sum("amount"))
    }


def batches_closing(center: Center, day: datetime.date) -> QuerySet:
    from review.models import ExportBatch

    return ExportBatch.objects.filter(center=center, closes_date=day).order_by("number")


def batch_lines(batch: Any) -> QuerySet[ChargeLine]:
    """The lines of one export batch, in batch order."""
    return ChargeLine.objects.filter(export_item__batch=batch).order_by(
        "charge_set__encounter_id", "export_item__position", "pk"
    )


def _row(values: dict[str, Any], approvers: dict[int, str]) -> ReportRow:
    transaction = values["transaction_type"]
    diagnoses = [str(code) for code in values["charge_set__encounter__diagnoses"] or [] if code]
    modifiers = [str(code) for code in values["modifiers"] or [] if code]
    return {
        "line": values["pk"],
        "service_date": values["service_date"],
        "mrn": values["charge_set__encounter__patient_mrn"],
        "patient_name": values["charge_set__encounter__patient_name"],
        "visit_number": values["charge_set__encounter__visit_number"],
        "encounter": values["charge_set__encounter_id"],
        "setting": values["charge_set__encounter__setting"],
        "payer": values["charge_set__encounter__payer"],
        "code": values["code"],
        "units": signed(transaction, values["units"]),
        "modifiers": " ".join(modifiers),
        "modifier_list": modifiers,
        "revenue_code": values["revenue_code"],
        "transaction": transaction,
        "amount": signed(transaction, values["amount"]),
        "unit_price": values["unit_price"],
        "diagnoses": " ".join(diagnoses),
        "diagnosis_list": diagnoses,
        "status": values["charge_set__status"],
        "batch": values["export_item__batch__number"],
        "approved_by": approvers.get(values["charge_set_id"], ""),
    }


def iter_rows(lines: QuerySet[ChargeLine], *, chunk_size: int = CHUNK_SIZE) -> Iterator[ReportRow]:
    """Report rows of a line queryset, read in chunks; the approvers of each chunk in one query."""
    chunk: list[dict[str, Any]] = []
    for values in lines.values(*_VALUES).iterator(chunk_size=chunk_size):
        chunk.append(values)
        if len(chunk) >= chunk_size:
            yield from _rows(chunk)
            chunk = []
    if chunk:
        yield from _rows(chunk)


def _rows(chunk: list[dict[str, Any]]) -> Iterator[ReportRow]:
    approvers = approvers_of({values["charge_set_id"] for values in chunk})
    for values in chunk:
        yield _row(values, approvers)


def report_totals(lines: QuerySet[ChargeLine]) -> Totals:
    """Totals per code and payer computed by the database (signed: credits subtract)."""
    from reports.rows import Total

    credit = Q(transaction_type=CREDIT)
    net_units = Sum("units", filter=~credit, default=0) - Sum("units", filter=credit, default=0)
    net_amount = Sum("amount", filter=~credit, default=Decimal("0")) - Sum(
        "amount", filter=credit, default=Decimal("0")
    )
    totals = Totals.empty()
    base = lines.order_by()
    for field_name, target in (("code", totals.by_code), ("charge_set__encounter__payer", totals.by_payer)):
        for item in base.values(field_name).annotate(n=Count("pk"), u=net_units, a=net_amount).order_by(field_name):
            target[item[field_name]] = Total(key=item[field_name], lines=item["n"], units=item["u"], amount=item["a"])
    overall = base.aggregate(n=Count("pk"), u=net_units, a=net_amount)
    totals.overall = Total(key="All", lines=overall["n"], units=overall["u"] or 0, amount=overall["a"] or Decimal(0))
    return totals


def code_descriptions(codes: Iterable[str]) -> dict[str, str]:
    """Our own short descriptions of procedure and drug codes (for HL7 FT1-7.2)."""
    from codebook.models import Drug, ProcedureCode

    wanted = sorted(set(codes))
    found: dict[str, str] = {}
    for code, description in (
        ProcedureCode.objects.filter(code__in=wanted).order_by("valid_from").values_list("code", "description")
    ):
        found[code] = description
    for code, name in Drug.objects.filter(hcpcs__in=wanted).order_by("valid_from").values_list("hcpcs", "name"):
        found.setdefault(code, name)
    return found


# --- batches ------------------------------------------------------------------------------------------


def batches_for(user: Any) -> QuerySet:
    from review.models import ExportBatch

    return (
        ExportBatch.objects.filter(center__in=manager_centers(user))
        .select_related("center", "created_by")
        .prefetch_related("files")
        .order_by("-created_at", "-pk")
    )


def last_closes(center_ids: Iterable[int], limit: int = 20) -> QuerySet[DayClose]:
    return (
        DayClose.objects.filter(center_id__in=list(center_ids))
        .select_related("center", "batch", "closed_by")
        .order_by("-closed_at", "-pk")[:limit]
    )


def open_close_failures(center_ids: Iterable[int], since: datetime.date) -> list[DayClose]:
    """Failed closes with no later successful close of the same center and day; failed HL7 outbox
    deliveries (a failure with a batch) until that batch is re-sent."""
    ids = list(center_ids)
    failures = list(
        DayClose.objects.filter(center_id__in=ids, outcome=CloseOutcome.FAILED, service_date__gte=since)
        .select_related("center", "batch")
        .order_by("-closed_at")
    )
    if not failures:
        return []
    later_ok = {
        (c["center_id"], c["service_date"]): c["closed_at"]
        for c in DayClose.objects.filter(center_id__in=ids, service_date__gte=since)
        .exclude(outcome=CloseOutcome.FAILED)
        .values("center_id", "service_date", "closed_at")
        .order_by("closed_at")
    }
    from reports.models import ReSend

    resent = {
        r["batch_id"]: r["sent_at"]
        for r in ReSend.objects.filter(batch_id__in=[f.batch_id for f in failures if f.batch_id])
        .values("batch_id", "sent_at")
        .order_by("sent_at")
    }
    open_failures = []
    for f in failures:
        if f.batch_id:  # an outbox delivery failure: open until the batch is re-sent
            resolved = resent.get(f.batch_id, f.closed_at) > f.closed_at
        else:
            resolved = later_ok.get((f.center_id, f.service_date), f.closed_at) > f.closed_at
        if not resolved:
            open_failures.append(f)
    return open_failures


# --- dashboard ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Dashboard:
    days: list[datetime.date]
    charges_per_day: list[tuple[datetime.date, int, Decimal]]
    top_codes: list[tuple[str, int, int, Decimal]]
    lag_days: list[int]
    lag_median: float | None
    lag_p90: float | None
    open_gaps: int
    open_queries: int
    batches_per_day: list[tuple[datetime.date, int]]
    failures: list[DayClose] = field(default_factory=list)


def percentile(values: list[int], fraction: float) -> float | None:
    """Nearest-rank percentile (p90 of 10 values is the 9th smallest); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(fraction * 100) * len(ordered) // 100))
    return float(ordered[min(rank, len(ordered)) - 1])


def dashboard(*, center_ids: list[int], today: datetime.date, days: int = 30, tz: str = "UTC") -> Dashboard:
    """The dashboard figures over the `days` days ending `today` (dates of service)."""
    start = today - datetime.timedelta(days=days - 1)
    day_list = [start + datetime.timedelta(days=i) for i in range(days)]
    lines = ChargeLine.objects.filter(
        charge_set__encounter__center_id__in=center_ids,
        service_date__gte=start,
        service_date__lte=today,
        charge_set__status__in=list(REPORT_STATUSES),
    )
    credit = Q(transaction_type=CREDIT)
    net_units = Sum("units", filter=~credit, default=0) - Sum("units", filter=credit, default=0)
    net_amount = Sum("amount", filter=~credit, default=Decimal("0")) - Sum(
        "amount", filter=credit, default=Decimal("0")
    )

    per_day = {
        row["service_date"]: (row["n"], row["a"] or Decimal("0"))
        for row in lines.order_by().values("service_date").annotate(n=Count("pk"), a=net_amount)
    }
    charges_per_day = [(d, *per_day.get(d, (0, Decimal("0")))) for d in day_list]

    top_codes = [
        (row["code"], row["n"], row["u"], row["a"] or Decimal("0"))
        for row in lines.order_by()
        .values("code")
        .annotate(n=Count("pk"), u=net_units, a=net_amount)
        .order_by("-n", "code")[:10]
    ]

    # charge lag: days from the encounter's date of service to the approval of its set
    zone = zoneinfo.ZoneInfo(tz)
    approvals = (
        ChargeSetTransition.objects.filter(
            to_status=Status.APPROVED,
            charge_set__encounter__center_id__in=center_ids,
            created_at__date__gte=start - datetime.timedelta(days=1),
        )
        .values_list("charge_set_id", "charge_set__encounter__service_date", "created_at")
        .order_by("charge_set_id", "created_at")
    )
    first_approval: dict[int, int] = {}
    for set_id, service_date, approved_at in approvals:
        if set_id in first_approval:
            continue
        approved_day = timezone.localtime(approved_at, zone).date()
        if start <= approved_day <= today:
            first_approval[set_id] = max((approved_day - service_date).days, 0)
    lag = list(first_approval.values())

    open_gaps = (
        Administration.objects.filter(encounter__center_id__in=center_ids, stop_at__isnull=True)
        .exclude(encounter__status=EncounterStatus.VOID)
        .exclude(encounter__charge_sets__status__in=[Status.EXPORTED, Status.VOID])
        .values("encounter_id")
        .distinct()
        .count()
    )
    open_queries = _open_queries(center_ids)

    from review.models import ExportBatch

    per_batch_day = {
        row["day"]: row["n"]
        for row in ExportBatch.objects.filter(center_id__in=center_ids, closes_date__gte=start, closes_date__lte=today)
        .annotate(day=F("closes_date"))
        .values("day")
        .annotate(n=Count("pk"))
    }
    batches_per_day = [(d, per_batch_day.get(d, 0)) for d in day_list]

    return Dashboard(
        days=day_list,
        charges_per_day=charges_per_day,
        top_codes=top_codes,
        lag_days=lag,
        lag_median=float(statistics.median(lag)) if lag else None,
        lag_p90=percentile(lag, 0.9),
        open_gaps=open_gaps,
        open_queries=open_queries,
        batches_per_day=batches_per_day,
        failures=open_close_failures(center_ids, start),
    )


def _open_queries(center_ids: list[int]) -> int:
    from review.models import OPEN_QUERY_STATUSES, DocumentationQuery

    return DocumentationQuery.objects.filter(
        encounter__center_id__in=center_ids, status__in=list(OPEN_QUERY_STATUSES)
    ).count()
