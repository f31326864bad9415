"""The nurse's board, the encounter pages and the administration form."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils.timezone import template_localtime
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import centers_for, role_required, scoped
from accounts.roles import Role
from charges import drug_search
from charges.errors import SigningRefused, StaleVersion, TransitionNotAllowed
from charges.forms import AdministrationForm, EncounterForm
from charges.models import Administration, Pause
from charges.selectors import (
    board_encounters,
    drug_catalog,
    encounter_charge_sets,
    encounter_reloaded,
    running_administrations,
)
from charges.services.administrations import (
    administration_create,
    administration_delete,
    administration_stop_now,
    administration_update,
)
from charges.services.encounters import (
    encounter_create,
    encounter_record_view,
    encounter_sign,
    encounter_update,
)
from charges.views.common import center_today, is_htmx, local, nurse_encounter
from charges.views.preview import preview_context
from infusioncenter.params import parse_whole_number


def _review_queries(*, user: Any = None, encounter: Any = None) -> Any:
    """Open documentation queries from coding (issue 5), when the review app is installed; else None."""
    from django.apps import apps

    if not apps.is_installed("review"):
        return None
    from review import selectors as review_selectors

    if encounter is not None:
        return list(review_selectors.open_queries_for_encounter(encounter))
    return list(review_selectors.open_queries_for_nurse(user))


@role_required(Role.NURSE)
def board(request: HttpRequest) -> HttpResponse:
    """Today's patients at the nurse's centers and the infusions still running."""
    centers = list(centers_for(request.user, Role.NURSE))
    current = getattr(request, "center", None)
    if current is not None and any(c.pk == current.pk for c in centers):
        centers = [c for c in centers if c.pk == current.pk]  # the center chosen in the navigation bar
    day_text = request.GET.get("date", "")
    day: datetime.date | None = None
    if day_text:
        try:
            day = datetime.date.fromisoformat(day_text)
        except ValueError:
            messages.error(request, "That is not a date (use YYYY-MM-DD); showing today.")
    rows = []
    for center in centers:
        the_day = day or center_today(center)
        for enc in board_encounters(user=request.user, day=the_day, center_ids=[center.pk]):
            running = [a for a in enc.administrations.all() if a.running]
            rows.append({"encounter": enc, "running": running, "count": len(enc.administrations.all())})
    running = [
        {"administration": a, "start": local(a.start_at, a.encounter.center)}
        for a in running_administrations(user=request.user, center_ids=[c.pk for c in centers])
    ]
    return render(
        request,
        "charges/board.html",
        {
            "rows": rows,
            "running": running,
            "day": day,
            "centers": centers,
            "nurse_queries": _review_queries(user=request.user),
        },
    )


@role_required(Role.NURSE)
@require_http_methods(["GET", "POST"])
def encounter_new(request: HttpRequest) -> HttpResponse:
    centers = centers_for(request.user, Role.NURSE)
    first = centers.order_by("name").first()
    initial: dict[str, Any] = {}
    if first is not None:
        initial = {
            "center": first.pk,
            "service_date": center_today(first),
            "setting": first.setting,
            "payer": first.default_payer,
            "billing_entity": first.billing_entity,
            "department_status": first.department_status or "on_campus",
        }
    form = EncounterForm(request.POST or None, centers=centers, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            encounter = encounter_create(center=form.cleaned_data["center"], actor=request.user, values=form.values())
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            return HttpResponseRedirect(reverse("charges:encounter", args=[encounter.pk]))
    return render(request, "charges/encounter_new.html", {"form": form})


@role_required(Role.NURSE)
@require_http_methods(["GET", "POST"])
def encounter_edit(request: HttpRequest, pk: int) -> HttpResponse:
    encounter = nurse_encounter(request, pk)
    scoped_centers = centers_for(request.user, Role.NURSE).filter(pk=encounter.center_id)
    initial = {
        "center": encounter.center_id,
        **{
            f: getattr(encounter, f)
            for f in (
                "service_date",
                "patient_name",
                "patient_mrn",
                "patient_dob",
                "visit_number",
                "ordering_provider",
                "ordering_npi",
                "setting",
                "payer",
                "billing_entity",
                "department_status",
                "em_code",
                "em_separately_identifiable",
            )
        },
        "diagnoses": ", ".join(encounter.diagnoses or []),
        "other_services": ", ".join(encounter.other_services or []),
    }
    form = EncounterForm(request.POST or None, centers=scoped_centers, initial=initial)
    conflict = ""
    if request.method == "POST" and form.is_valid():
        try:
            version = _posted_version(request)
            encounter_update(encounter=encounter, actor=request.user, values=form.values(), expected_version=version)
        except StaleVersion as exc:
            conflict = str(exc)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, "Encounter details saved.")
            return HttpResponseRedirect(reverse("charges:encounter", args=[encounter.pk]))
    return render(
        request,
        "charges/encounter_edit.html",
        {"form": form, "encounter": encounter, "conflict": conflict},
    )


def _errors_to_form(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            for message in errors:
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _shown(value: Any, fmt: str) -> str:
    """What `{{ value|date:fmt }}` shows in a template (the date filter localizes datetimes first)."""
    return date_filter(template_localtime(value), fmt) if value else ""


def _row(a: Any, encounter: Any, center: Any, service_ymd: str) -> dict[str, Any]:
    """One administration of the list, its times formatted here rather than by a dozen template
    filters per row (the block is rendered after every save)."""
    start, stop = local(a.start_at, center), local(a.stop_at, center)
    start_ymd, stop_ymd = _shown(start, "Y-m-d"), _shown(stop, "Y-m-d")
    return {
        "adm": a,
        "start": start,
        "stop": stop,
        "edit_url": reverse("charges:administration_edit", args=[encounter.pk, a.pk]),
        "start_hm": _shown(start, "H:i"),
        "start_day": f" ({start_ymd})" if start_ymd != service_ymd else "",
        "stop_hm": _shown(stop, "H:i"),
        "stop_day": f" ({stop_ymd})" if stop and stop_ymd != start_ymd else "",
        "pauses": [
            (_shown(local(p.start_at, center), "H:i"), _shown(local(p.stop_at, center), "H:i")) for p in a.pauses.all()
        ],
    }


def _listed_administrations(encounter: Any) -> list[Administration]:
    """`encounter_administrations(encounter)` without the two users it joins to every row: the list (and
    the form shown with it) never shows who documented or changed an administration. Pauses in order."""
    return list(
        Administration.objects.filter(encounter=encounter)
        .prefetch_related(Prefetch("pauses", queryset=Pause.objects.order_by("start_at", "pk")))
        .order_by("start_at", "pk")
    )


def _page_context(request: HttpRequest, encounter: Any, **extra: Any) -> dict[str, Any]:
    administrations = _listed_administrations(encounter)
    center = encounter.center
    service_ymd = date_filter(encounter.service_date, "Y-m-d")
    rows = [_row(a, encounter, center, service_ymd) for a in administrations]
    context = {
        "encounter": encounter,
        "rows": rows,
        # evaluated only by the templates that show it (not by the htmx block after a save)
        "charge_sets": lambda: encounter_charge_sets(encounter),
        "form_html": "",
        **extra,
    }
    return context


@role_required(Role.NURSE)
def encounter_detail(request: HttpRequest, pk: int) -> HttpResponse:
    encounter = nurse_encounter(request, pk)
    encounter_record_view(encounter=encounter, actor=request.user)
    context = _page_context(request, encounter, nurse_queries=_review_queries(encounter=encounter))
    # the preview is part of the first render too: a reload must not show "No charges yet"
    context.update(preview_context(encounter))
    return render(request, "charges/encounter.html", context)


def _catalog(encounter: Any) -> list[drug_search.DrugEntry]:
    return drug_catalog(encounter.service_date)


def _render_block(request: HttpRequest, encounter: Any, form: Any = None, action: str = "", status: int = 200) -> Any:
    """The administrations block: the list and, when given, the open form (htmx target)."""
    context = _page_context(request, encounter, form=form, form_action=action)
    if form is None:
        context["focus_add"] = True
    response = render(request, "charges/_administrations.html", context, status=status)
    if form is None:
        response["HX-Trigger"] = "charges-changed"
    return response


@role_required(Role.NURSE)
@require_http_methods(["GET", "POST"])
def administration_new(request: HttpRequest, pk: int) -> HttpResponse:
    encounter = nurse_encounter(request, pk)
    action = reverse("charges:administration_new", args=[encounter.pk])
    if request.method == "GET":
        form = AdministrationForm(encounter=encounter)
        return _form_response(request, encounter, form, action)
    form = AdministrationForm(request.POST, encounter=encounter, catalog=_catalog(encounter))
    if form.is_valid():
        try:
            adm = administration_create(
                encounter=encounter, actor=request.user, values=form.parsed_values, pauses=form.parsed_pauses
            )
        except ValidationError as exc:
            form.apply_problems(exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages})
        else:
            return _saved(request, encounter, "Administration saved.", saved=adm.encounter)
    return _form_response(request, encounter, form, action)


@role_required(Role.NURSE)
@require_http_methods(["GET", "POST"])
def administration_edit(request: HttpRequest, pk: int, adm_pk: int) -> HttpResponse:
    encounter = nurse_encounter(request, pk)
    adm = get_object_or_404(Administration.objects.select_related("encounter__center"), pk=adm_pk, encounter=encounter)
    action = reverse("charges:administration_edit", args=[encounter.pk, adm.pk])
    if request.method == "GET":
        form = AdministrationForm(encounter=encounter, initial=AdministrationForm.initial_for(adm))
        return _form_response(request, encounter, form, action, adm=adm)
    form = AdministrationForm(request.POST, encounter=encounter, catalog=_catalog(encounter))
    if form.is_valid():
        try:
            administration_update(
                administration=adm,
                actor=request.user,
                values=form.parsed_values,
                pauses=form.parsed_pauses,
                expected_version=form.cleaned_data.get("version"),
            )
        except StaleVersion as exc:
            form.conflict = str(exc)
        except ValidationError as exc:
            form.apply_problems(exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages})
        else:
            return _saved(request, encounter, "Administration saved.")
    return _form_response(request, encounter, form, action, adm=adm)


def _posted_version(request: HttpRequest) -> int | None:
    """The version the form was loaded with (optimistic locking); None when the form sent none.

    A damaged value (not a whole number) is treated like a stale form: the nurse is asked to reload,
    nothing is saved, and it is never a server error.
    """
    raw = (request.POST.get("version") or "").strip()
    if not raw:
        return None
    version = parse_whole_number(raw)
    if version is None:
        raise StaleVersion(message="This form is out of date or damaged. Reload the page; nothing was saved.")
    return version or None


@role_required(Role.NURSE)
@require_POST
def administration_delete_view(request: HttpRequest, pk: int, adm_pk: int) -> HttpResponse:
    encounter = nurse_encounter(request, pk)
    adm = get_object_or_404(Administration, pk=adm_pk, encounter=encounter)
    try:
        version = _posted_version(request)
        administration_delete(administration=adm, actor=request.user, expected_version=version)
    except StaleVersion as exc:
        messages.error(request, str(exc))
    return _saved(request, encounter, "Administration removed.")


def _form_response(request: HttpRequest, encounter: Any, form: Any, action: str, adm: Any = None) -> HttpResponse:
    if form.is_bound:
        form.mark_errors()
    if is_htmx(request):
        context = _page_context(request, encounter, form=form, form_action=action, editing=adm)
        return render(request, "charges/_administrations.html", context)
    context = _page_context(request, encounter, form=form, form_action=action, editing=adm)
    return render(request, "charges/administration_form_page.html", context)


def _saved(request: HttpRequest, encounter: Any, message: str, saved: Any = None) -> HttpResponse:
    """After a change: the administrations block (htmx) or back to the encounter page.

    `saved`: the encounter row as the service read it under its lock (the state the change was made on).
    The block shows only its pk, service date and center (time zone), so that row with the center this
    request already read serves; otherwise the encounter is read again (center and users in one query)."""
    if is_htmx(request):
        if saved is not None and saved.pk == encounter.pk and saved.center_id == encounter.center_id:
            saved.center = encounter.center
            return _render_block(request, saved)
        return _render_block(request, encounter_reloaded(encounter))
    messages.success(request, message)
    return HttpResponseRedirect(reverse("charges:encounter", args=[encounter.pk]))


@role_required(Role.NURSE)
@require_POST
def administration_stop(request: HttpRequest, adm_pk: int) -> HttpResponse:
    """ "Stop now" on the board: the running administration stops at the current minute."""
    adm = get_object_or_404(
        scoped(
            Administration.objects.select_related("encounter"),
            request.user,
            Role.NURSE,
            center_field="encounter__center",
        ),
        pk=adm_pk,
    )
    administration_stop_now(administration=adm, actor=request.user)
    messages.success(request, f"{adm.drug} stopped.")
    target = request.POST.get("next") or reverse("charges:board")
    if not target.startswith("/") or target.startswith("//"):
        target = reverse("charges:board")
    return HttpResponseRedirect(target)


@role_required(Role.NURSE)
@require_POST
def encounter_sign_view(request: HttpRequest, pk: int) -> HttpResponse:
    encounter = nurse_encounter(request, pk)
    try:
        encounter_sign(encounter=encounter, actor=request.user)
    except (SigningRefused, TransitionNotAllowed) as exc:
        messages.error(request, f"Not signed: {exc}")
    else:
        messages.success(request, "Signed: the encounter is with coding.")
    return HttpResponseRedirect(reverse("charges:encounter", args=[encounter.pk]))


@role_required(Role.NURSE)
def drug_search_view(request: HttpRequest) -> HttpResponse:
    """Drug search as you type (htmx fragment; a JSON-free list of options)."""
    query = request.GET.get("q", "") or request.GET.get("drug", "")
    matches = drug_search.search_drugs(query[:100], drug_catalog())
    return render(request, "charges/_drug_options.html", {"matches": matches, "query": query})
