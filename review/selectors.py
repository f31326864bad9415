"""Reads of coder review: the queue, the documentation-needed list, the review page, queries.

The queue runs a constant number of queries whatever the page size (the test asserts it): the
page's sets come with their encounter, center and documenter joined, and line counts, amounts
and open-query counts as subquery annotations; counts per status are one aggregate over the
whole selection (every filter but the status filter, so the status tabs show their counts), and
the paginator takes its total from them (no COUNT query of its own). The page is chosen on the
bare selection first (its ids, ordered and sliced, as a subquery), so the per-row annotations are
computed for the page's rows only, not for every row an OFFSET skips. The coder's centers are read
once per request and the selections filter on their ids. Figures: bench/queue_bench.py.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from charges.models import Administration, ChargeLine, ChargeSet, Encounter, Pause, TransactionType
from charges.models.encounters import TIMED_ROUTES
from charges.workflow import Status
from infusioncenter.params import parse_whole_number
from review.models import OPEN_QUERY_STATUSES, DocumentationQuery, LineCorrection, PatientRef

CODER = "coder"
NURSE = "nurse"
PAGE_SIZE = 50
PAGE_SIZES = (10, 25, 50, 100)
#: the warning that puts a set on the documentation-needed list (besides open queries)
DOCUMENTATION_WARNINGS = ("MISSING_STOP_TIME",)
#: timed routes, sorted: a running administration (no stop time yet) is on one of them (partial index)
RUNNING_ROUTES = sorted(route.value for route in TIMED_ROUTES)
#: sort keys of the queue (URL value -> order_by fields)
SORTS: dict[str, tuple[str, ...]] = {
    "date": ("encounter__service_date", "encounter_id", "pk"),
    "patient": ("encounter__patient_name", "encounter__service_date", "pk"),
    "center": ("encounter__center__name", "encounter__service_date", "pk"),
    "payer": ("encounter__payer", "encounter__service_date", "pk"),
    "status": ("status", "encounter__service_date", "pk"),
    "amount": ("amount_total", "pk"),
    "queries": ("open_query_count", "encounter__service_date", "pk"),
}
DEFAULT_SORT = "date"
HISTORY_KINDS = {"+": "added", "~": "changed", "-": "deleted"}


@dataclass
class QueueFilters:
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    center_id: int | None = None
    payer: str = ""
    status: str = ""
    warning: str = ""
    patient: str = ""  # an opaque PatientRef token
    sort: str = DEFAULT_SORT
    errors: dict[str, str] = field(default_factory=dict)
    #: the patient token's (center id, MRN), looked up once per request (`_patient_key`)
    _patient_key: tuple[int, str] | None = field(default=None, repr=False, compare=False)
    _patient_resolved: bool = field(default=False, repr=False, compare=False)
    #: (user id, the user's coder centers), looked up once per request (`coder_centers`)
    _centers: tuple[Any, list[Any]] | None = field(default=None, repr=False, compare=False)


def _parse_date(value: str, name: str, errors: dict[str, str]) -> datetime.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        errors[name] = f"{value!r} is not a date (YYYY-MM-DD)."
        return None


def parse_filters(params: Any) -> QueueFilters:
    """Filters from query parameters; bad values are reported in `errors` and ignored."""
    errors: dict[str, str] = {}
    f = QueueFilters(errors=errors)
    f.date_from = _parse_date(params.get("from", ""), "from", errors)
    f.date_to = _parse_date(params.get("to", ""), "to", errors)
    if f.date_from and f.date_to and f.date_to < f.date_from:
        errors["to"] = "The end date is before the start date."
        f.date_to = None
    center = (params.get("center") or "").strip()
    if center:
        center_id = parse_whole_number(center)
        if center_id is not None:
            f.center_id = center_id
        else:
            errors["center"] = "Unknown center."
    f.payer = (params.get("payer") or "").strip()[:40]
    status = (params.get("status") or "").strip()
    if status and status not in Status.values:
        errors["status"] = "Unknown status."
    else:
        f.status = status
    warning = (params.get("warning") or "").strip().upper()
    if warning and not warning.replace("_", "").isalnum():
        errors["warning"] = "Unknown warning code."
    else:
        f.warning = warning
    f.patient = (params.get("patient") or "").strip()[:32]
    sort = (params.get("sort") or DEFAULT_SORT).strip()
    f.sort = sort if sort.lstrip("-") in SORTS else DEFAULT_SORT
    return f


def reviewable_sets(user: Any) -> QuerySet[ChargeSet]:
    """Charge sets of the centers where the user is a coder (another center's: none, so a 404)."""
    from accounts.access import scoped

    return scoped(ChargeSet.objects.all(), user, CODER, center_field="encounter__center")


def _patient_key(filters: QueueFilters) -> tuple[int, str] | None:
    """(center id, MRN) of the patient token, one query per filters object (the queue builds several selections)."""
    if not filters._patient_resolved:
        filters._patient_key = (
            PatientRef.objects.filter(token=filters.patient).values_list("center_id", "patient_mrn").first()
        )
        filters._patient_resolved = True
    return filters._patient_key


def coder_centers(user: Any, filters: QueueFilters) -> list[Any]:
    """The centers where the user is a coder (`centers_for`), by name: one query per request, kept on `filters`.

    The queue's selections filter on their ids, rather than each carrying the membership subquery
    of `reviewable_sets` (the same centers; simpler SQL to build and to plan, five times a page).
    """
    from accounts.access import centers_for

    if filters._centers is None or filters._centers[0] != user.pk:
        filters._centers = (user.pk, list(centers_for(user, CODER).order_by("name")))
    return filters._centers[1]


def _selection(user: Any, filters: QueueFilters, *, with_status: bool = True, to_set: str = "") -> Q:
    """The queue's filters as one condition on a charge set, reached from the queried model by `to_set`.

    `reviewable_sets` with the ids of `coder_centers` instead of the membership subquery, then the
    filters. Every path is a foreign key (one row each), so the same condition holds from a set's
    query (`to_set="charge_set__"`) as a join, without a subquery over the whole selection.
    """
    centers = [center.pk for center in coder_centers(user, filters)]
    conditions = [Q(**{f"{to_set}encounter__center_id__in": centers})]
    if filters.date_from:
        conditions.append(Q(**{f"{to_set}encounter__service_date__gte": filters.date_from}))
    if filters.date_to:
        conditions.append(Q(**{f"{to_set}encounter__service_date__lte": filters.date_to}))
    if filters.center_id:
        conditions.append(Q(**{f"{to_set}encounter__center_id": filters.center_id}))
    if filters.payer:
        conditions.append(Q(**{f"{to_set}encounter__payer": filters.payer}))
    if filters.warning:
        conditions.append(Q(**{f"{to_set}derivation__warnings__icontains": f'"{filters.warning}"'}))
    if filters.patient:
        ref = _patient_key(filters)
        if ref is None:
            conditions.append(Q(**{f"{to_set}pk__in": []}))  # nothing
        else:
            conditions.append(Q(**{f"{to_set}encounter__center_id": ref[0], f"{to_set}encounter__patient_mrn": ref[1]}))
    if with_status and filters.status:
        conditions.append(Q(**{f"{to_set}status": filters.status}))
    return Q(*conditions)


def queue_selection(user: Any, filters: QueueFilters, *, with_status: bool = True) -> QuerySet[ChargeSet]:
    """The filtered sets (before annotations and order); `with_status=False` ignores the status filter."""
    return ChargeSet.objects.filter(_selection(user, filters, with_status=with_status))


def _row_annotations() -> dict[str, Any]:
    """Line count, amount in force and open-query count of a set, as correlated subqueries.

    Every credit cancels exactly one charge line (services refuse a second credit), so the lines
    in force are charges minus credits, and their amount is the charge amounts minus the credit
    amounts: one pass over the set's lines, no anti-join.
    """
    lines = ChargeLine.objects.filter(charge_set=OuterRef("pk")).order_by().values("charge_set")
    charge = Q(transaction_type=TransactionType.CHARGE)
    credit = Q(transaction_type=TransactionType.CREDIT)
    open_queries = (
        DocumentationQuery.objects.filter(charge_set=OuterRef("pk"), status__in=OPEN_QUERY_STATUSES)
        .order_by()
        .values("charge_set")
    )
    return {
        "line_count": Coalesce(
            Subquery(
                lines.annotate(n=Count("pk", filter=charge) - Count("pk", filter=credit)).values("n")[:1],
                output_field=IntegerField(),
            ),
            Value(0),
        ),
        "amount_total": Subquery(
            lines.annotate(
                total=Sum(
                    Case(
                        When(charge, then=F("amount")),
                        default=-F("amount"),
                        output_field=DecimalField(max_digits=16, decimal_places=2),
                    )
                )
            ).values("total")[:1]
        ),
        "open_query_count": Coalesce(
            Subquery(open_queries.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()), Value(0)
        ),
    }


def annotate_queue(qs: QuerySet[ChargeSet]) -> QuerySet[ChargeSet]:
    """Everything a queue row shows, joined or as subqueries (no per-row query)."""
    return (
        qs.select_related("encounter", "encounter__center", "encounter__created_by")
        .only(
            "group_key",
            "status",
            "version",
            "proposed_derivation_id",
            "encounter__service_date",
            "encounter__patient_name",
            "encounter__payer",
            "encounter__center__name",
            "encounter__created_by__username",
            "encounter__created_by__first_name",
            "encounter__created_by__last_name",
        )
        .annotate(
            **_row_annotations(),
            warning_list=F("derivation__warnings"),
            has_proposal=Q(proposed_derivation__isnull=False),
        )
    )


def _order_fields(sort: str) -> tuple[str, ...]:
    fields = SORTS[sort.lstrip("-")]
    if sort.startswith("-"):
        fields = tuple(f"-{name}" for name in fields)
    return fields


def queue(user: Any, filters: QueueFilters) -> QuerySet[ChargeSet]:
    """The queue's queryset: filtered, annotated, sorted (the page uses `queue_ids` + `QueuePaginator`)."""
    return annotate_queue(queue_selection(user, filters)).order_by(*_order_fields(filters.sort))


def queue_ids(user: Any, filters: QueueFilters) -> QuerySet[ChargeSet]:
    """The ids of the queue's sets in page order, with only the annotation the sort needs (slice it)."""
    fields = _order_fields(filters.sort)
    qs = queue_selection(user, filters)
    annotations = _row_annotations()
    # Sorting by open queries counts them for every set of the selection: one outer join and GROUP BY
    # (the same numbers as the row's subquery), as a correlated subquery per set rescans the query table.
    annotations["open_query_count"] = Count("queries", filter=Q(queries__status__in=OPEN_QUERY_STATUSES))
    needed = {name.lstrip("-") for name in fields} & annotations.keys()
    if needed:
        qs = qs.annotate(**{name: annotations[name] for name in needed})
    return qs.order_by(*fields).values_list("pk", flat=True)


def queue_rows(ids: QuerySet[ChargeSet], sort: str) -> QuerySet[ChargeSet]:
    """The annotated rows of a slice of `queue_ids` (one query; the slice is a subquery), in page order."""
    return annotate_queue(ChargeSet.objects.filter(pk__in=ids)).order_by(*_order_fields(sort))


class QueuePaginator(Paginator):
    """Pages of `queue_ids`: the total is given (the status counts have it), a page's rows come from `queue_rows`."""

    def __init__(self, ids: QuerySet[ChargeSet], per_page: int, *, count: int, sort: str) -> None:
        super().__init__(ids, per_page)
        self.count = count  # a cached_property of Paginator: no COUNT query
        self.sort = sort

    def _get_page(self, object_list: Any, number: int, paginator: Paginator) -> Page:
        return super()._get_page(queue_rows(object_list, self.sort), number, paginator)


def status_counts(user: Any, filters: QueueFilters) -> dict[str, int]:
    """Sets per status over the whole selection (one query), every status present (0 if none)."""
    qs = queue_selection(user, filters, with_status=False)
    counts = qs.aggregate(
        total=Count("pk"), **{f"n_{value}": Count("pk", filter=Q(status=value)) for value in Status.values}
    )
    result = {value: counts[f"n_{value}"] for value in Status.values}
    result["all"] = counts["total"]
    return result


def payers_in_queue(user: Any, filters: QueueFilters | None = None) -> list[str]:
    """Payers of all the user's sets (the payer choices: every filter ignored)."""
    centers = coder_centers(user, filters or QueueFilters())
    sets = ChargeSet.objects.filter(encounter__center_id__in=[center.pk for center in centers])
    return list(sets.order_by().values_list("encounter__payer", flat=True).distinct())


@dataclass(frozen=True)
class NeededRow:
    charge_set_id: int
    encounter_id: int
    service_date: datetime.date
    patient_name: str
    center_name: str
    reason: str
    nurse: str


def documentation_needed(user: Any, filters: QueueFilters, limit: int = 50) -> list[NeededRow]:
    """Sets blocked by documentation: an infusion without a stop time, or an open query; with the nurse.

    Two queries of plain values (no model instances: up to 100 rows of four joined tables each).
    """
    base = queue_selection(user, filters, with_status=False).exclude(status=Status.VOID)
    rows: list[NeededRow] = []
    # the set a row links to: the encounter's first set in the selection (main group first)
    first_set = base.filter(encounter_id=OuterRef("encounter_id")).order_by("group_key", "pk").values("pk")[:1]
    missing = (
        Administration.objects.filter(
            encounter_id__in=base.exclude(status=Status.EXPORTED).values("encounter_id"),
            stop_at__isnull=True,
            route__in=RUNNING_ROUTES,
        )
        .annotate(first_set_id=Subquery(first_set))
        .order_by("encounter__service_date", "start_at", "pk")
        .values(
            "first_set_id",
            "encounter_id",
            "drug",
            "start_at",
            "encounter__service_date",
            "encounter__patient_name",
            "encounter__center__name",
            "encounter__center__time_zone",
            "documented_by__username",
            "documented_by__first_name",
            "documented_by__last_name",
        )[:limit]
    )
    for adm in missing:
        if adm["first_set_id"] is None:
            continue
        zone = ZoneInfo(adm["encounter__center__time_zone"] or "UTC")
        rows.append(
            NeededRow(
                charge_set_id=adm["first_set_id"],
                encounter_id=adm["encounter_id"],
                service_date=adm["encounter__service_date"],
                patient_name=adm["encounter__patient_name"],
                center_name=adm["encounter__center__name"],
                reason=f"Stop time missing for {adm['drug']} (started {adm['start_at'].astimezone(zone):%H:%M})",
                nurse=_name_of(adm, "documented_by"),
            )
        )
    queries = (
        DocumentationQuery.objects.filter(
            _selection(user, filters, with_status=False, to_set="charge_set__"),
            ~Q(charge_set__status=Status.VOID),
            status__in=OPEN_QUERY_STATUSES,
        )
        .order_by("encounter__service_date", "asked_at", "pk")
        .values(
            "charge_set_id",
            "encounter_id",
            "question",
            "status",
            "encounter__service_date",
            "encounter__patient_name",
            "encounter__center__name",
            "addressed_to__username",
            "addressed_to__first_name",
            "addressed_to__last_name",
        )[:limit]
    )
    for query in queries:
        state = "answered, to close" if query["status"] == "answered" else "open query"
        rows.append(
            NeededRow(
                charge_set_id=query["charge_set_id"],
                encounter_id=query["encounter_id"],
                service_date=query["encounter__service_date"],
                patient_name=query["encounter__patient_name"],
                center_name=query["encounter__center__name"],
                reason=f"{state.capitalize()}: {query['question']}",
                nurse=_name_of(query, "addressed_to"),
            )
        )
    rows.sort(key=lambda r: (r.service_date, r.charge_set_id))
    return rows


def _name_of(values: dict[str, Any], prefix: str) -> str:
    """`_name` of the user joined as `prefix` in a `.values()` row (no user: "unknown")."""
    username = values[f"{prefix}__username"]
    if username is None:
        return "unknown"
    full_name = f"{values[f'{prefix}__first_name']} {values[f'{prefix}__last_name']}".strip()  # get_full_name()
    return full_name or username


def _name(user: Any) -> str:
    if user is None:
        return "unknown"
    return (user.get_full_name() or "").strip() or user.username


def patient_search(user: Any, term: str, limit: int = 10) -> list[dict[str, Any]]:
    """Type-ahead over the coder's patients (name or MRN); returns opaque ids, never MRNs in URLs."""
    from accounts.access import centers_for
    from review.services import patient_ref_for

    term = (term or "").strip()
    if len(term) < 2:
        return []
    rows = (
        Encounter.objects.filter(center__in=centers_for(user, CODER))
        .filter(Q(patient_name__icontains=term) | Q(patient_mrn__iexact=term))
        .values("center_id", "center__name", "patient_mrn", "patient_name")
        .order_by("patient_name", "center_id", "patient_mrn")
        .distinct()[: limit * 3]
    )
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for row in rows:
        key = (row["center_id"], row["patient_mrn"])
        if key in seen:
            continue
        seen.add(key)
        ref = patient_ref_for(center_id=row["center_id"], patient_mrn=row["patient_mrn"])
        out.append({"token": ref.token, "name": row["patient_name"], "center": row["center__name"]})
        if len(out) >= limit:
            break
    return out


def patient_label(user: Any, token: str) -> str:
    """The name shown for a chosen patient filter (on the page only)."""
    from accounts.access import centers_for

    ref = PatientRef.objects.filter(token=token, center__in=centers_for(user, CODER)).first()
    if ref is None:
        return ""
    enc = Encounter.objects.filter(center_id=ref.center_id, patient_mrn=ref.patient_mrn).order_by("-pk").first()
    return enc.patient_name if enc else ""


# --- the review page ------------------------------------------------------------------------------------


def review_set(user: Any, pk: int) -> ChargeSet:
    """The set for the review page (404 via get_object_or_404 in the view when not the user's)."""
    return reviewable_sets(user).select_related(
        "encounter", "encounter__center", "encounter__created_by", "encounter__signed_by", "updated_by", "derivation"
    )


def set_lines(charge_set: ChargeSet) -> list[ChargeLine]:
    return list(
        ChargeLine.objects.filter(charge_set=charge_set)
        .select_related("created_by", "replaces", "export_item__batch")
        .prefetch_related("administrations")
        .order_by("position", "pk")
    )


def set_administrations(encounter: Encounter) -> list[Administration]:
    return list(
        Administration.objects.filter(encounter=encounter)
        .select_related("documented_by")
        .prefetch_related(Prefetch("pauses", queryset=Pause.objects.order_by("start_at", "pk")))
        .order_by("start_at", "pk")
    )


def set_queries(charge_set: ChargeSet) -> list[DocumentationQuery]:
    return list(
        DocumentationQuery.objects.filter(charge_set=charge_set)
        .select_related("asked_by", "addressed_to", "closed_by", "administration")
        .prefetch_related("answers__author")
        .order_by("asked_at", "pk")
    )


def set_corrections(charge_set: ChargeSet) -> list[LineCorrection]:
    return list(LineCorrection.objects.filter(charge_set=charge_set).select_related("actor").order_by("created_at"))


def set_history(charge_set: ChargeSet) -> list[Any]:
    """Status transitions of the set, oldest first."""
    return list(charge_set.transitions.select_related("actor").order_by("created_at", "pk"))


def documentation_history(encounter: Encounter, limit: int = 100) -> list[dict[str, Any]]:
    """Changes to the documentation (encounter and administrations), newest first."""
    entries: list[dict[str, Any]] = []
    for record in encounter.history.select_related("history_user").order_by("-history_date")[:limit]:
        entries.append(
            {
                "when": record.history_date,
                "who": _name(record.history_user) if record.history_user else "system",
                "what": f"Encounter {HISTORY_KINDS.get(record.history_type, record.history_type)}",
                "note": record.history_change_reason or "",
            }
        )
    adm_history = Administration.history.filter(encounter_id=encounter.pk).select_related("history_user")
    for record in adm_history.order_by("-history_date")[:limit]:
        kind = HISTORY_KINDS.get(record.history_type, record.history_type)
        entries.append(
            {
                "when": record.history_date,
                "who": _name(record.history_user) if record.history_user else "system",
                "what": f"{record.drug} {kind}",
                "note": record.history_change_reason or "",
            }
        )
    entries.sort(key=lambda e: e["when"], reverse=True)
    return entries[:limit]


def proposal_lines(charge_set: ChargeSet) -> list[dict[str, Any]]:
    """The waiting derivation's lines for this set (side by side with the current ones)."""
    if charge_set.proposed_derivation_id is None:
        return []
    derivation = charge_set.proposed_derivation
    return derivation.lines_for_group(charge_set.group_key)


def payer_notes(charge_set: ChargeSet, codes: list[str]) -> list[Any]:
    """Payer notes of the codes present (and the payer's general notes)."""
    try:
        from codebook.selectors import payer_notes_for
    except ImportError:  # pragma: no cover - the codebook app ships it
        return []
    return list(payer_notes_for(charge_set.encounter.payer, codes, charge_set.encounter.service_date))


def totals(lines: list[ChargeLine]) -> dict[str, Decimal]:
    zero = Decimal("0.00")
    charge = sum((ln.amount or zero for ln in lines if ln.transaction_type == TransactionType.CHARGE), zero)
    credit = sum((ln.amount or zero for ln in lines if ln.transaction_type == TransactionType.CREDIT), zero)
    return {"charge": charge, "credit": credit, "net": charge - credit}


# --- the nurse's side ---------------------------------------------------------------------------------------


def open_queries_for_nurse(user: Any) -> QuerySet[DocumentationQuery]:
    """Open (and answered, not yet closed) queries at the nurse's centers: hers first, then the others."""
    from accounts.access import centers_for

    return (
        DocumentationQuery.objects.filter(
            encounter__center__in=centers_for(user, NURSE), status__in=OPEN_QUERY_STATUSES
        )
        .select_related("encounter", "asked_by", "administration", "addressed_to")
        .prefetch_related("answers__author")
        .order_by("asked_at", "pk")
    )


def open_queries_for_encounter(encounter: Encounter) -> QuerySet[DocumentationQuery]:
    return (
        DocumentationQuery.objects.filter(encounter=encounter, status__in=OPEN_QUERY_STATUSES)
        .select_related("asked_by", "administration", "addressed_to")
        .prefetch_related("answers__author")
        .order_by("asked_at", "pk")
    )
