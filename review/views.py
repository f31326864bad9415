"""Coder review pages (issue 5): the queue, the review page and its actions.

Every view is declared with `role_required`; objects come through `review.selectors`, which scope
them to the user's coder centers, so another center's set is a 404. Services raise named domain
errors; here they become a message on the re-rendered page (keeping what was typed), a 403
(`RoleRefused`, `DutySeparation`) or a 409 (`StaleVersion`: "changed by X at T, reload").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import centers_for, role_required
from accounts.roles import Role
from charges.errors import ChargesError, DutySeparation, StaleVersion, TransitionNotAllowed
from charges.models import Administration, ChargeLine, TransactionType
from charges.services.charge_sets import actor_roles_at
from charges.workflow import Status, allowed_targets
from infusioncenter.params import parse_whole_number
from review import selectors, services, timeline
from review.errors import RoleRefused
from review.models import DocumentationQuery

#: warning codes offered in the queue filter (coding-rules.md, closed list)
WARNING_CODES = (
    "MISSING_STOP_TIME",
    "HYDRATION_UNDER_31",
    "HYDRATION_NOT_DOCUMENTED",
    "UNKNOWN_DRUG",
    "LONG_PUSH",
    "OVERLAPPING_PUSHES",
    "SECOND_SITE_UNSUPPORTED",
    "PRIMARY_REASON_OVERRIDDEN",
    "REPEAT_INFUSION",
    "PUSH_WITH_SAME_DRUG_INFUSION",
    "REPEAT_CHEMO_PUSH",
    "SPLIT_DOSE",
    "MISSING_DOSE",
    "WASTE_NOT_DOCUMENTED",
    "MISSING_NDC",
    "MUE_EXCEEDED",
    "UNLISTED_CODE",
    "INTEGRAL_TO_PROCEDURE",
    "EM_NOT_SEPARATE",
    "UNKNOWN_PAYER",
)


def _version(request: HttpRequest) -> int | None:
    return parse_whole_number(request.POST.get("version"))


def stale_message(exc: StaleVersion, zone: Any = None) -> str:
    when = "just now"
    if exc.changed_at is not None:
        when = timezone.localtime(exc.changed_at, zone).strftime("%H:%M") if zone else exc.changed_at.strftime("%H:%M")
    return (
        f"This charge set was changed by {exc.changed_by} at {when}. Reload: the page below now shows that change, "
        "and your input is kept — check it and submit again."
    )


def _errors_of(exc: ValidationError) -> dict[str, str]:
    if hasattr(exc, "error_dict"):
        return {field: " ".join(str(m) for m in msgs) for field, msgs in exc.message_dict.items()}
    return {"general": " ".join(exc.messages)}


# --- the queue -------------------------------------------------------------------------------------------


def _set_detail_urls() -> Any:
    """pk -> the review page's URL, reversed once: the queue links up to 150 sets, ~50 µs a `{% url %}`."""
    marker = "987654321987"
    head, found, tail = reverse("review:set_detail", args=[int(marker)]).rpartition(marker)
    if not found:  # pragma: no cover - a URL that does not carry the pk as such
        return lambda pk: reverse("review:set_detail", args=[pk])
    return lambda pk: f"{head}{int(pk)}{tail}"


def _query_string(params: dict[str, Any], **overrides: Any) -> str:
    merged = {k: v for k, v in {**params, **overrides}.items() if v not in (None, "")}
    return urlencode(merged)


@role_required(Role.CODER)
def queue(request: HttpRequest) -> HttpResponse:
    filters = selectors.parse_filters(request.GET)
    for message in filters.errors.values():
        messages.error(request, message)
    per_page = parse_whole_number(request.GET.get("per_page"))
    per_page = per_page if per_page in selectors.PAGE_SIZES else 50
    counts = selectors.status_counts(request.user, filters)
    paginator = selectors.QueuePaginator(
        selectors.queue_ids(request.user, filters),
        per_page,
        count=counts[filters.status] if filters.status else counts["all"],
        sort=filters.sort,
    )
    page_number = request.GET.get("page")
    page = paginator.get_page(paginator.num_pages if page_number == "last" else page_number)
    services.record_view(actor=request.user, what="queue", detail={"page": page.number})
    params = {
        "from": filters.date_from.isoformat() if filters.date_from else "",
        "to": filters.date_to.isoformat() if filters.date_to else "",
        "center": filters.center_id or "",
        "payer": filters.payer,
        "status": filters.status,
        "warning": filters.warning,
        "patient": filters.patient,
        "sort": filters.sort if filters.sort != selectors.DEFAULT_SORT else "",
        "per_page": per_page if per_page != 50 else "",
    }
    status_tabs = [("", "All", counts["all"])] + [(value, label, counts[value]) for value, label in Status.choices]
    sort_links = {}
    for key in selectors.SORTS:
        descending = filters.sort == key
        sort_links[key] = {
            "url": "?" + _query_string(params, sort=f"-{key}" if descending else key, page=""),
            "aria": "ascending" if filters.sort == key else "descending" if filters.sort == f"-{key}" else "none",
        }
    set_url = _set_detail_urls()
    rows = []
    for charge_set in page.object_list:
        codes = sorted({w.get("code", "") for w in (charge_set.warning_list or []) if isinstance(w, dict)})
        date = charge_set.encounter.service_date.isoformat()  # as |date:"Y-m-d", ~20 µs less a row
        rows.append({"set": charge_set, "warnings": codes, "url": set_url(charge_set.pk), "date": date})
    needed_rows = selectors.documentation_needed(request.user, filters)
    needed = [
        {**vars(row), "url": set_url(row.charge_set_id), "date": row.service_date.isoformat()} for row in needed_rows
    ]
    context = {
        "filters": filters,
        "params": params,
        "page": page,
        "rows": rows,
        "status_tabs": [
            {"value": v, "label": label, "count": n, "url": "?" + _query_string(params, status=v, page="")}
            for v, label, n in status_tabs
        ],
        "sort_links": sort_links,
        "page_query": _query_string(params, page=""),
        "centers": selectors.coder_centers(request.user, filters),
        "payers": selectors.payers_in_queue(request.user, filters),
        "warning_codes": WARNING_CODES,
        "statuses": Status.choices,
        "needed": needed,
        "patient_label": selectors.patient_label(request.user, filters.patient) if filters.patient else "",
        "clear_patient_url": "?" + _query_string(params, patient="", page=""),
    }
    return render(request, "review/queue.html", context)


@role_required(Role.CODER)
@require_http_methods(["GET", "POST"])
def patient_search(request: HttpRequest) -> HttpResponse:
    """Type-ahead: the typed name travels in a POST body, the result links carry opaque ids only."""
    term = request.POST.get("q", "") if request.method == "POST" else ""
    keep = {k: request.POST.get(k, "") for k in ("from", "to", "center", "payer", "status", "warning", "sort")}
    results = selectors.patient_search(request.user, term)
    for result in results:
        result["url"] = reverse("review:queue") + "?" + _query_string(keep, patient=result["token"])
    template = "review/_patient_results.html" if request.htmx else "review/patient_search.html"
    return render(request, template, {"results": results, "term": term, "keep": keep})


# --- the review page ---------------------------------------------------------------------------------------


def _timeline_items(administrations: list[Administration]) -> list[timeline.TimelineItem]:
    items = []
    for adm in administrations:
        dose = f"{adm.dose.normalize():f} {adm.dose_unit}" if adm.dose is not None else ""
        items.append(
            timeline.TimelineItem(
                id=f"A{adm.pk}",
                drug=adm.drug,
                route=adm.route,
                site=adm.site or "A",
                start=adm.start_at,
                stop=adm.stop_at,
                pauses=tuple((p.start_at, p.stop_at) for p in adm.pauses.all()),
                hydration=adm.purpose == "hydration",
                integral=bool(adm.integral_to),
                detail=dose,
            )
        )
    return items


def _line_rows(lines: list[ChargeLine], corrections: list[Any]) -> list[dict[str, Any]]:
    """Lines with the engine's line kept beside the coder's (the snapshot before the first change)."""
    engine_before: dict[int, dict] = {}
    for correction in corrections:
        if correction.line_id and isinstance(correction.before, dict) and not correction.after_export:
            engine_before.setdefault(correction.line_id, correction.before)
    credited = {ln.replaces_id for ln in lines if ln.transaction_type == TransactionType.CREDIT}
    rows = []
    for line in lines:
        item = getattr(line, "export_item", None) if _has_export_item(line) else None
        rows.append(
            {
                "line": line,
                "engine": engine_before.get(line.pk),
                "credited": line.pk in credited,
                "batch": item.batch if item is not None else None,
                "credit": line.transaction_type == TransactionType.CREDIT,
            }
        )
    return rows


def _has_export_item(line: ChargeLine) -> bool:
    try:
        line.export_item  # noqa: B018 - the reverse one-to-one raises when absent
    except ChargeLine.export_item.RelatedObjectDoesNotExist:
        return False
    return True


def _review_context(
    request: HttpRequest,
    charge_set: Any,
    *,
    form: Any = None,
    form_errors: dict[str, str] | None = None,
    active_form: str = "",
) -> dict[str, Any]:
    encounter = charge_set.encounter
    zone = ZoneInfo(encounter.center.time_zone or "UTC")
    administrations = selectors.set_administrations(encounter)
    items = _timeline_items(administrations)
    lines = selectors.set_lines(charge_set)
    corrections = selectors.set_corrections(charge_set)
    active_codes = sorted({ln.code for ln in lines if ln.transaction_type == TransactionType.CHARGE})
    derivation = charge_set.derivation
    roles = {str(r) for r in actor_roles_at(request.user, encounter.center_id)}
    targets = allowed_targets(charge_set.status, roles)
    exported = charge_set.status == Status.EXPORTED
    context = {
        "charge_set": charge_set,
        "encounter": encounter,
        "zone": zone,
        "timeline_svg": mark_safe(  # noqa: S308 - every text in the SVG is escaped by review.timeline
            timeline.render_svg(items, zone, title=f"Timeline of encounter {encounter.pk}")
        ),
        "timeline_rows": timeline.table_rows(items, zone),
        "administrations": administrations,
        "line_rows": _line_rows(lines, corrections),
        "totals": selectors.totals(lines),
        "warnings": list(derivation.warnings or []) if derivation else [],
        "errors": list(derivation.errors or []) if derivation else [],
        "proposal": selectors.proposal_lines(charge_set),
        "payer_notes": selectors.payer_notes(charge_set, active_codes),
        "queries": selectors.set_queries(charge_set),
        "corrections": corrections,
        "transitions": selectors.set_history(charge_set),
        "doc_history": selectors.documentation_history(encounter),
        "is_coder": Role.CODER in roles,
        "can_approve": Status.APPROVED in targets,
        "can_hold": Status.ON_HOLD in targets,
        "can_release": charge_set.status == Status.ON_HOLD and Role.CODER in roles,
        "can_edit": Role.CODER in roles and (charge_set.status in services.EDITABLE_STATUSES or exported),
        "exported": exported,
        "form": form if form is not None else {},
        "form_errors": form_errors or {},
        "active_form": active_form,
    }
    for row in context["line_rows"]:
        row["correct_active"] = active_form == f"correct-{row['line'].pk}"
        row["remove_active"] = active_form == f"remove-{row['line'].pk}"
    for query in context["queries"]:
        query.close_active = active_form == f"close-{query.pk}"
    return context


def _get_set(request: HttpRequest, pk: int) -> Any:
    return get_object_or_404(selectors.review_set(request.user, pk), pk=pk)


@role_required(Role.CODER)
def set_detail(request: HttpRequest, pk: int) -> HttpResponse:
    charge_set = _get_set(request, pk)
    services.record_view(actor=request.user, what="charge_set", charge_set=charge_set)
    return render(request, "review/set_detail.html", _review_context(request, charge_set))


def _act(request: HttpRequest, pk: int, form_name: str, action, success: str) -> HttpResponse:
    """Runs one review action; on a domain error re-renders the review page with the input kept."""
    charge_set = _get_set(request, pk)
    zone = ZoneInfo(charge_set.encounter.center.time_zone or "UTC")
    try:
        action(charge_set)
    except RoleRefused as exc:
        raise PermissionDenied(str(exc)) from exc
    except DutySeparation as exc:
        return _rerender(request, charge_set, form_name, {"general": str(exc)}, 403)
    except StaleVersion as exc:
        return _rerender(request, charge_set, form_name, {"general": stale_message(exc, zone)}, 409)
    except ValidationError as exc:
        return _rerender(request, charge_set, form_name, _errors_of(exc), 400)
    except (TransitionNotAllowed, ChargesError) as exc:
        return _rerender(request, charge_set, form_name, {"general": str(exc)}, 409)
    messages.success(request, success)
    return redirect("review:set_detail", pk=charge_set.pk)


def _rerender(request: HttpRequest, charge_set: Any, form_name: str, errors: dict[str, str], status: int):
    fresh = _get_set(request, charge_set.pk)
    context = _review_context(request, fresh, form=request.POST, form_errors=errors, active_form=form_name)
    return render(request, "review/set_detail.html", context, status=status)


@role_required(Role.CODER)
@require_POST
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "approve",
        lambda cs: services.review_approve(charge_set=cs, actor=request.user, expected_version=_version(request)),
        "Approved.",
    )


@role_required(Role.CODER)
@require_POST
def hold(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "hold",
        lambda cs: services.review_hold(
            charge_set=cs, actor=request.user, reason=request.POST.get("reason", ""), expected_version=_version(request)
        ),
        "Put on hold.",
    )


@role_required(Role.CODER)
@require_POST
def release(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "release",
        lambda cs: services.review_release(
            charge_set=cs, actor=request.user, reason=request.POST.get("reason", ""), expected_version=_version(request)
        ),
        "Released for review.",
    )


@role_required(Role.CODER)
@require_POST
def proposal_accept(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "accept",
        lambda cs: services.proposal_accept(charge_set=cs, actor=request.user, expected_version=_version(request)),
        "New lines accepted.",
    )


def _line_of(charge_set: Any, line_pk: int) -> ChargeLine:
    return get_object_or_404(ChargeLine.objects.select_related("charge_set"), pk=line_pk, charge_set=charge_set)


@role_required(Role.CODER)
@require_POST
def line_correct(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    charge_set = _get_set(request, pk)
    line = _line_of(charge_set, line_pk)
    return _act(
        request,
        pk,
        f"correct-{line.pk}",
        lambda cs: services.line_correct(
            line=line,
            actor=request.user,
            units=request.POST.get("units", ""),
            modifiers=request.POST.get("modifiers", ""),
            reason=request.POST.get("reason", ""),
            expected_version=_version(request),
        ),
        f"Line {line.code} corrected.",
    )


@role_required(Role.CODER)
@require_POST
def line_remove(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    charge_set = _get_set(request, pk)
    line = _line_of(charge_set, line_pk)
    return _act(
        request,
        pk,
        f"remove-{line.pk}",
        lambda cs: services.line_remove(
            line=line, actor=request.user, reason=request.POST.get("reason", ""), expected_version=_version(request)
        ),
        f"Line {line.code} removed.",
    )


@role_required(Role.CODER)
@require_POST
def line_add(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        "add",
        lambda cs: services.line_add(
            charge_set=cs,
            actor=request.user,
            code=request.POST.get("code", ""),
            units=request.POST.get("units", ""),
            modifiers=request.POST.get("modifiers", ""),
            reason=request.POST.get("reason", ""),
            expected_version=_version(request),
        ),
        "Line added.",
    )


@role_required(Role.CODER)
@require_POST
def query_create(request: HttpRequest, pk: int) -> HttpResponse:
    def run(cs):
        administration = None
        raw = (request.POST.get("administration") or "").strip()
        if raw:
            administration = Administration.objects.filter(pk=parse_whole_number(raw) or 0).first()
            if administration is None:
                raise ValidationError({"administration": "Choose an administration of this encounter."})
        services.query_create(
            charge_set=cs,
            actor=request.user,
            question=request.POST.get("question", ""),
            administration=administration,
            expected_version=_version(request),
        )

    return _act(request, pk, "query", run, "Query sent to the nurse; the charges are on hold until it is closed.")


@role_required(Role.CODER)
@require_POST
def query_close(request: HttpRequest, pk: int) -> HttpResponse:
    query = get_object_or_404(
        DocumentationQuery.objects.filter(charge_set__in=selectors.reviewable_sets(request.user)), pk=pk
    )
    return _act(
        request,
        query.charge_set_id,
        f"close-{query.pk}",
        lambda cs: services.query_close(
            query=query, actor=request.user, note=request.POST.get("note", ""), expected_version=_version(request)
        ),
        "Query closed.",
    )


@role_required(Role.NURSE)
@require_POST
def query_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """The nurse's answer (from the board or the encounter page); back to where she came from."""
    query = get_object_or_404(
        DocumentationQuery.objects.filter(encounter__center__in=centers_for(request.user, Role.NURSE)), pk=pk
    )
    target = _local_path(request, request.POST.get("next", ""))
    try:
        services.query_answer(query=query, actor=request.user, answer=request.POST.get("answer", ""))
    except RoleRefused as exc:
        raise PermissionDenied(str(exc)) from exc
    except ValidationError as exc:
        return render(
            request,
            "review/nurse_queries.html",
            {
                "nurse_queries": selectors.open_queries_for_nurse(request.user),
                "answer_errors": {query.pk: " ".join(exc.messages)},
                "answer_values": {query.pk: request.POST.get("answer", "")},
                "next": target,
            },
            status=400,
        )
    except ChargesError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(target)
    messages.success(request, "Answer sent to the coder.")
    return HttpResponseRedirect(target)


def _local_path(request: HttpRequest, target: str) -> str:
    """`target` when it is a path on this site ("/..."), else the nurse's query page (never a view name)."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = (target or "").strip()
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    if local and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("review:nurse_queries")


@role_required(Role.NURSE)
def nurse_queries(request: HttpRequest) -> HttpResponse:
    """The nurse's open queries on one page (also included on her board and encounter page)."""
    return render(
        request,
        "review/nurse_queries.html",
        {"nurse_queries": selectors.open_queries_for_nurse(request.user), "next": request.get_full_path()},
    )
