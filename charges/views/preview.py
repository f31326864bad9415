"""The "Charges preview" fragment: derived lines and warnings, with pending and failed states."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.access import role_required
from accounts.roles import Role
from charges.models import DerivationStatus
from charges.selectors import current_derivation
from charges.services.derivations import broker_is_eager, derivation_ensure_current, derivation_request
from charges.views.common import nurse_encounter

#: after this long without a result, a pending preview is shown as failed (with a retry button)
PENDING_TIMEOUT = datetime.timedelta(seconds=45)

#: human-readable titles of the warnings nurses must act on (codes from coding-rules.md)
WARNING_TITLES = {
    "MISSING_STOP_TIME": "Missing stop time",
    "HYDRATION_UNDER_31": "Hydration under 31 minutes",
    "HYDRATION_NOT_DOCUMENTED": "Fluid without an ordered purpose",
    "LONG_PUSH": "Long push (over 15 minutes)",
    "OVERLAPPING_PUSHES": "Overlapping pushes",
    "UNKNOWN_DRUG": "Unknown drug",
    "MISSING_DOSE": "Missing dose",
    "WASTE_NOT_DOCUMENTED": "Waste not documented",
    "MISSING_NDC": "Missing NDC",
    "SECOND_SITE_UNSUPPORTED": "Second site without a documented need",
    "SPLIT_DOSE": "Split dose",
    "UNSUPPORTED_ROUTE": "Route and drug give no code",
    "ELECTROLYTE_THERAPEUTIC": "Electrolyte replacement charged as therapeutic",
    "REPEAT_INFUSION": "Same drug infused again",
    "PUSH_WITH_SAME_DRUG_INFUSION": "Push of a drug also infused",
    "REPEAT_CHEMO_PUSH": "Repeated chemotherapy push",
    "INTEGRAL_TO_PROCEDURE": "Part of a procedure",
    "UNKNOWN_PAYER": "Unknown payer",
    "EM_NOT_SEPARATE": "E/M not separately identifiable",
    "EM_99211_BUNDLED": "99211 bundled",
    "MUE_EXCEEDED": "Units above the MUE",
    "ADDON_WITHOUT_PRIMARY": "Add-on without its primary",
}
#: what the nurse can do about each warning
WARNING_HINTS = {
    "MISSING_STOP_TIME": "Enter the stop time: until then it is not charged and the encounter cannot be signed.",
    "HYDRATION_UNDER_31": "Hydration counts only from 31 minutes not overlapping other infusions or pushes.",
    "HYDRATION_NOT_DOCUMENTED": "Choose the fluid's purpose (hydration with its indication, KVO or carrier).",
    "LONG_PUSH": "A push over 15 minutes: check the route (an infusion?) and the times.",
    "OVERLAPPING_PUSHES": "Two pushes on one site overlap: check their times.",
    "UNKNOWN_DRUG": "Pick the drug from the list, or choose its category under More details.",
}


def describe_warning(item: dict[str, Any], drug_names: dict[str, str]) -> dict[str, Any]:
    code = str(item.get("code") or "")
    adm = item.get("administration")
    return {
        "code": code,
        "title": WARNING_TITLES.get(code, code.replace("_", " ").capitalize()),
        "hint": WARNING_HINTS.get(code, ""),
        "message": item.get("message") or "",
        "drug": drug_names.get(str(adm), "") if adm else "",
    }


def preview_context(encounter: Any) -> dict[str, Any]:
    derivation = current_derivation(encounter)
    state = "ready"
    if derivation is None or derivation.status == DerivationStatus.PENDING:
        if broker_is_eager():
            derivation = derivation_ensure_current(encounter=encounter)
        else:
            state = "pending"
            if timezone.now() - encounter.updated_at > PENDING_TIMEOUT:
                state = "failed"
    if derivation is not None and derivation.status == DerivationStatus.FAILED:
        state = "failed"
    context: dict[str, Any] = {"encounter": encounter, "state": state, "derivation": derivation}
    if state == "ready" and derivation is not None:
        output = derivation.output or {}
        names = {
            str(a.get("id")): str(a.get("drug") or "")
            for a in (derivation.input or {}).get("administrations", [])
            if isinstance(a, dict)
        }
        lines = []
        for line in output.get("lines", []):
            lines.append(
                {
                    **line,
                    "modifier_text": " ".join(line.get("modifiers") or []),
                    "drugs": ", ".join(names.get(a, a) for a in line.get("administrations") or []),
                }
            )
        context["lines"] = lines
        context["warnings"] = [describe_warning(w, names) for w in output.get("warnings", [])]
        context["errors"] = [describe_warning(e, names) for e in output.get("errors", [])]
    return context


@role_required(Role.NURSE)
def preview(request: HttpRequest, pk: int) -> HttpResponse:
    encounter = nurse_encounter(request, pk)
    return render(request, "charges/_preview.html", preview_context(encounter))


@role_required(Role.NURSE)
@require_POST
def preview_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Retry": queues the derivation again (on commit)."""
    encounter = nurse_encounter(request, pk)
    with transaction.atomic():
        type(encounter).objects.filter(pk=encounter.pk).update(updated_at=timezone.now())
        derivation_request(encounter=encounter)
    encounter.refresh_from_db()
    return render(request, "charges/_preview.html", preview_context(encounter))
