"""Drug lines and their modifiers (R19): units, JW/JZ, 340B, NDC; fluid supply lines (R3).

Sources (coding-rules-reference.md): units rounded up [S11][S16][S-ascbilling]; JW/JZ [S12][S13][S14][S15];
340B JG/TB [S17][S18][S-visante] (2025 TB for hospitals, UNCONFIRMED item 9); unclassified codes
[S-whatismedicalinsurancebilling]; packaged status (OPPS Addendum B; coding-rules.md seed list).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from . import constants as C
from .context import Context, Item
from .types import EncounterError, Line

_ZERO = Decimal(0)
_FACTORS = {name: (family, Decimal(str(factor))) for name, (family, factor) in C.UNIT_FAMILIES.items()}


def _unit(name: str | None):
    if name is None:
        return None
    return _FACTORS.get(name.strip().lower())


def _fmt(value) -> str:
    """Plain decimal text without exponent or trailing zeros (cheap path for the usual values)."""
    text = str(value)
    if "E" in text or "e" in text or ("." in text and text.endswith("0")):
        text = format(value.normalize(), "f")
    return text


def code_drugs(ctx: Context, items: list[Item]) -> list[Line]:
    """R19: one line per HCPCS per date (unclassified: per drug text and billing unit), then JW lines."""
    buckets: dict[tuple, list[Item]] = {}
    facility = ctx.facility
    date = ctx.date
    for item in items:
        admin = item.admin
        hcpcs = admin.hcpcs
        if hcpcs is None:
            continue
        drug = item.drug
        if drug is None and admin.billing_unit is None:
            ctx.warn(
                "UNKNOWN_DRUG",
                item.id,
                f"R19: HCPCS {hcpcs} is not in the codebook and no billing_unit is given; no drug line.",
            )
            continue
        if not facility and (
            item.category == "hydration"
            and admin.purpose != "hydration"
            and drug is not None
            and drug.category == "hydration"
        ):
            continue  # R3: kvo/carrier fluid produces no line in the professional setting
        if item.vaccine_kind:
            key = (hcpcs, date(admin.start))
        elif admin.dose is None:
            ctx.warn("MISSING_DOSE", item.id, f"R19: no dose documented for {item.label} ({hcpcs}); no drug line.")
            continue
        elif drug is None or drug.unclassified:
            key = (hcpcs, date(admin.start), item.label.strip().casefold(), admin.billing_unit)
        else:
            key = (hcpcs, date(admin.start))
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = [item]
        else:
            bucket.append(item)
    if not buckets:
        return []
    # The arithmetic of a one-administration line depends on these and the administration's own fields only.
    context_key = ("drug-line", ctx.payer.key, facility, ctx.encounter.billing_entity)
    cache = ctx.snapshot.cache.get(context_key)
    if cache is None:
        cache = ctx.snapshot.cache[context_key] = {}
    lines: list[Line] = []
    for key, members in buckets.items():
        _drug_line(ctx, key, members, cache, lines)
    return lines


def _drug_line(ctx: Context, key: tuple, members: list[Item], cache: dict, lines: list[Line]) -> None:
    """R19: the drug line of one bucket (and its JW line) appended to LINES; MISSING_NDC and WASTE_NOT_DOCUMENTED
    warnings."""
    hcpcs, date = key[0], key[1]
    first = members[0]
    drug = first.drug
    fadmin = first.admin
    payer = ctx.payer
    if len(members) == 1:
        ids = (first.id,)
        ndc = fadmin.ndc
    else:
        ids = tuple(item.id for item in members)
        ndc = next((item.admin.ndc for item in members if item.admin.ndc), None)
    unclassified = drug is None or drug.unclassified
    if not ndc and (payer.ndc_required or unclassified or drug.ndc_required):
        why = "unclassified code" if unclassified else payer.name
        ctx.warn("MISSING_NDC", first.id, f"R19: {hcpcs} needs an NDC ({why}); none was documented.")
    if first.vaccine_kind:
        line = Line(
            hcpcs,
            len(members),
            date,
            ids,
            "drug",
            f"R14, R19: vaccine product {first.label}, one unit per dose -> {len(members)}; no waste or 340B "
            "modifiers.",
        )
        line.ndc = ndc
        line.revenue_code = ctx.snapshot.revenue_codes["drug_separately_payable"] if ctx.facility else None
        lines.append(line)
        return
    # The arithmetic depends on these fields only (and on the payer, setting and entity of CACHE).
    cache_key = None
    core = None
    if fadmin.billing_unit is None and drug is not None:
        if len(members) == 1:
            cache_key = (
                hcpcs,
                fadmin.dose,
                fadmin.dose_unit,
                fadmin.wasted,
                fadmin.single_dose_container,
                fadmin.acquired_340b,
                fadmin.purpose,
                first.category,
            )
        else:
            cache_key = (
                hcpcs,
                fadmin.single_dose_container,
                fadmin.purpose,
                first.category,
                tuple((m.admin.dose, m.admin.dose_unit, m.admin.wasted, m.admin.acquired_340b) for m in members),
            )
        core = cache.get(cache_key)
    if core is None:
        core = _core(ctx, hcpcs, first, members, drug, unclassified)
        if cache_key is not None and len(cache) < 200_000:
            cache[cache_key] = core
    units, modifiers, text, waste, revenue, waste_missing = core
    if waste_missing:
        for item in members:
            if item.admin.wasted is None:
                ctx.warn(
                    "WASTE_NOT_DOCUMENTED",
                    item.id,
                    f"R19: {item.label} ({hcpcs}) is a separately payable single-dose drug; the discarded "
                    "amount (0 if none) must be documented for JW/JZ.",
                )
    line = Line(hcpcs, units, date, ids, "drug", text)
    if modifiers:
        line.modifiers.extend(modifiers)
    line.ndc = ndc
    line.revenue_code = revenue
    lines.append(line)
    if waste is not None:
        waste_line = Line(hcpcs, waste[0], date, ids, "drug", waste[2])
        waste_line.modifiers.extend(waste[1])
        waste_line.ndc = ndc
        waste_line.revenue_code = revenue
        lines.append(waste_line)


def _core(ctx: Context, hcpcs: str, first: Item, members: list[Item], drug, unclassified: bool) -> tuple:
    """R19 arithmetic of one drug line: (units, modifiers, explanation, JW (units, modifiers, text) or None,
    revenue code, waste-not-documented). A pure function of its inputs, cached per snapshot."""
    fadmin = first.admin
    payer = ctx.payer
    # Billing unit: the administration's billing_unit (an amount of its dose_unit) overrides the codebook.
    if first.admin.billing_unit is not None:
        unit_info = _unit(first.admin.dose_unit) or (_unit(drug.billing_unit) if drug else ("units", Decimal(1)))
        bu_family, bu_factor = unit_info
        per_unit = first.admin.billing_unit * bu_factor
        unit_name = first.admin.dose_unit or (drug.billing_unit if drug else "units")
        unit_amount = first.admin.billing_unit
    else:
        bu_family, bu_factor = _unit(drug.billing_unit)
        per_unit = drug.billing_unit_amount * bu_factor
        unit_name = drug.billing_unit
        unit_amount = drug.billing_unit_amount
    if len(members) == 1 and (fadmin.dose_unit is None or fadmin.dose_unit == unit_name) and bu_factor == 1:
        total = fadmin.dose
        wasted = fadmin.wasted if fadmin.wasted is not None else _ZERO
        waste_documented = fadmin.wasted is not None
    else:
        total = _ZERO
        wasted = _ZERO
        waste_documented = True
        for item in members:
            admin = item.admin
            info = _unit(admin.dose_unit) if admin.dose_unit else (bu_family, bu_factor)
            if info is None or info[0] != bu_family:
                raise EncounterError(
                    "DOSE_UNIT_MISMATCH",
                    item.id,
                    f"R19: dose unit {admin.dose_unit!r} of {item.label} does not convert to the billing unit of "
                    f"{hcpcs} ({_fmt(unit_amount)} {unit_name}).",
                )
            total += admin.dose * info[1]
            if admin.wasted is None:
                waste_documented = False
            else:
                wasted += admin.wasted * info[1]
    units = int((total / per_unit).to_integral_value(rounding=ROUND_CEILING))
    units = max(units, 1)
    base_text = f"R19: {_fmt(total / bu_factor)} {unit_name} / {_fmt(unit_amount)} {unit_name} per unit = {units} units"
    is_fluid_supply = (
        first.category == "hydration"
        and first.admin.purpose != "hydration"
        and drug is not None
        and drug.category == "hydration"
    )
    revenue = None
    separately_payable = (drug is not None and drug.opps_status in ("G", "K")) if ctx.facility else True
    if is_fluid_supply:
        separately_payable = False
    if ctx.facility:
        keys = ctx.snapshot.revenue_codes
        if drug is not None and drug.category == "hydration":
            revenue = keys["iv_solution"]
        elif separately_payable and not unclassified:
            revenue = keys["drug_separately_payable"]
        else:
            revenue = keys["drug_packaged"]
    container_single = first.admin.single_dose_container
    if container_single is None:
        container_single = drug is not None and drug.container == "single"
    modifiers: list[str] = []
    waste_line = None
    waste_missing = False
    notes = []
    if is_fluid_supply:
        notes.append(f"R3: {first.admin.purpose or 'undocumented-purpose'} fluid charged as a packaged supply")
    elif container_single and payer.waste_modifiers_required and separately_payable:
        if not waste_documented:
            waste_missing = True
            notes.append("discarded amount not documented, no JW/JZ")
        else:
            waste_units = int((wasted / per_unit).to_integral_value(rounding=ROUND_FLOOR))
            if waste_units >= 1:
                waste_line = [
                    waste_units,
                    ["JW"],
                    f"R19: {_fmt(wasted / bu_factor)} {unit_name} discarded from a single-dose container "
                    f"/ {_fmt(unit_amount)} {unit_name} = {waste_units} units (rounded down) -> JW line.",
                ]
                notes.append(f"{waste_units} discarded units on a JW line")
            else:
                modifiers.append("JZ")
                notes.append(
                    f"single-dose container, {_fmt(wasted / bu_factor)} {unit_name} discarded "
                    "(less than one unit) -> JZ"
                )
    elif container_single and separately_payable and not payer.waste_modifiers_required:
        notes.append(f"{payer.name} does not require JW/JZ")
    elif container_single and not separately_payable:
        notes.append("packaged drug, no JW/JZ")
    if any(item.admin.acquired_340b for item in members) and separately_payable and not is_fluid_supply:
        entity = ctx.encounter.billing_entity
        modifier = payer.modifier_340b_hospital if entity == "hospital" else payer.modifier_340b_covered_entity
        if modifier:
            modifiers.append(modifier)
            if waste_line is not None:
                waste_line[1].append(modifier)
            notes.append(f"340B-acquired, {entity.replace('_', ' ')} -> {modifier}")
    text = base_text + ("; " + "; ".join(notes) if notes else "") + "."
    waste = None if waste_line is None else (waste_line[0], tuple(waste_line[1]), waste_line[2])
    return units, tuple(modifiers), text, waste, revenue, waste_missing
