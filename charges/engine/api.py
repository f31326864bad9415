"""Engine entry points (docs/contracts.md section 3): derive_encounter, derive_document.

The order of work follows coding-rules.md: Conventions (groups, sites, integral), R1-R13 per group and site
(charges.engine.hierarchy), R14-R15 stand-alone services, R16 facility place of service, R17 E/M, R19 drug lines
(charges.engine.drugs), R8/R18 modifiers and revenue codes, R20 checks, R21 order. Same input and book ->
the same output whatever the order of the administrations (every iteration is over sorted data).
"""

from __future__ import annotations

from . import ENGINE_VERSION
from . import constants as C
from .context import Context, Item
from .drugs import code_drugs
from .hierarchy import code_group, recode_site
from .parse import dater, local_date, parse_encounter
from .snapshot import RulesBook
from .standalone import code_standalone
from .types import Encounter, EncounterError, Line

__all__ = ["ENGINE_VERSION", "derive_document", "derive_encounter", "derive_parsed", "parse_encounter"]

_IV_ROUTES = frozenset({"iv_infusion", "iv_push"})
_TEXT_KEYS: dict[str, str] = {}


def derive_encounter(encounter: dict, book: RulesBook) -> dict:
    """One engine-io.md input encounter (parsed JSON) -> {"id", "lines", "warnings", "errors"}; never raises."""
    parsed, errors = parse_encounter(encounter)
    if parsed is None:
        encounter_id = encounter.get("id") if isinstance(encounter, dict) else None
        if isinstance(encounter_id, (dict, list)):
            encounter_id = None
        return {"id": encounter_id, "lines": [], "warnings": [], "errors": [e.as_dict() for e in errors]}
    return derive_parsed(parsed, book)


def derive_document(document: dict, book: RulesBook) -> dict:
    """{"encounters": [...]} -> {"engine_version", "codebook_version", "encounters": [...]}."""
    encounters = document.get("encounters") if isinstance(document, dict) else None
    if not isinstance(encounters, list):
        encounters = []
    return {
        "engine_version": ENGINE_VERSION,
        "codebook_version": book.version,
        "encounters": [derive_encounter(encounter, book) for encounter in encounters],
    }


def derive_parsed(encounter: Encounter, book: RulesBook) -> dict:
    """The rules over one already-parsed encounter (what the engine benchmark times)."""
    try:
        lines, warnings = _derive(encounter, book)
    except EncounterError as error:
        return {"id": encounter.id, "lines": [], "warnings": [], "errors": [error.issue.as_dict()]}
    except Exception as error:  # noqa: BLE001 - the contract: never raise for one encounter
        message = f"internal engine error ({type(error).__name__}); the encounter was not coded, please report it"
        return {
            "id": encounter.id,
            "lines": [],
            "warnings": [],
            "errors": [{"code": "BAD_ENCOUNTER", "administration": None, "message": message}],
        }
    unique = []
    if warnings:
        seen = set()
        for warning in warnings:  # (code, administration, message) tuples; repeats reported once
            if warning not in seen:
                seen.add(warning)
                unique.append({"code": warning[0], "administration": warning[1], "message": warning[2]})
    # The output line dicts in engine-io.md key order (revenue_code, then ndc, only when set), built inline.
    out = []
    for line in lines:
        revenue_code = line.revenue_code
        ndc = line.ndc
        if ndc is None:
            if revenue_code is None:
                result = {
                    "code": line.code,
                    "units": line.units,
                    "modifiers": line.modifiers,
                    "date": line.date,
                    "administrations": [*line.admins],
                    "kind": line.kind,
                    "explanation": line.explanation,
                }
            else:
                result = {
                    "code": line.code,
                    "units": line.units,
                    "modifiers": line.modifiers,
                    "date": line.date,
                    "revenue_code": revenue_code,
                    "administrations": [*line.admins],
                    "kind": line.kind,
                    "explanation": line.explanation,
                }
        else:
            result = {"code": line.code, "units": line.units, "modifiers": line.modifiers, "date": line.date}
            if revenue_code is not None:
                result["revenue_code"] = revenue_code
            result["ndc"] = ndc
            result["administrations"] = [*line.admins]
            result["kind"] = line.kind
            result["explanation"] = line.explanation
        out.append(result)
    return {"id": encounter.id, "lines": out, "warnings": unique, "errors": []}


def _drug_facts(snapshot, payer) -> dict:
    """Per snapshot and payer, once: HCPCS -> (drug, codebook category, payer chemo list: 1 added, -1 removed,
    0 neither, drug identity key or None, hormonal, vaccine kind, electrolyte). Codes in neither the codebook
    nor the payer's chemo list are absent (no drug, nothing to change)."""
    cache_key = ("drug-facts", payer.key)
    table = snapshot.cache.get(cache_key)
    if table is not None:
        return table
    table = {}
    for hcpcs in set(snapshot.drugs) | payer.chemo_added | payer.chemo_removed:
        drug = snapshot.drugs.get(hcpcs)
        listed = 1 if hcpcs in payer.chemo_added else (-1 if hcpcs in payer.chemo_removed else 0)
        if drug is None:
            table[hcpcs] = (None, None, listed, None, False, "", False)
        else:
            table[hcpcs] = (
                drug,
                drug.category or None,
                listed,
                None if drug.unclassified else drug.ingredient,
                bool(drug.hormonal),
                drug.vaccine_kind,
                bool(drug.electrolyte),
            )
    snapshot.cache[cache_key] = table
    return table


_NO_FACTS = (None, None, 0, None, False, "", False)


def _resolve(ctx: Context, encounter: Encounter) -> list[Item]:
    """Codebook facts per administration: drug, category (input > payer chemo list > codebook), identity."""
    facts = _drug_facts(ctx.snapshot, ctx.payer)
    text_keys = _TEXT_KEYS
    items = []
    for admin in encounter.administrations:
        hcpcs = admin.hcpcs
        drug, drug_category, listed, key, hormonal, vaccine_kind, electrolyte = (
            facts.get(hcpcs, _NO_FACTS) if hcpcs else _NO_FACTS
        )
        category = admin.category
        if category is None:
            category = drug_category
        if listed:
            if listed > 0:
                category = "chemo"
            elif category == "chemo":
                category = "therapeutic"
        if key is None:
            key = text_keys.get(admin.drug)
            if key is None:
                key = " ".join(admin.drug.split()).casefold()
                if len(text_keys) < 100_000:
                    text_keys[admin.drug] = key
        if admin.hormonal is not None:
            hormonal = admin.hormonal
        if (
            category is None
            and not vaccine_kind
            and drug is not None
            and admin.route not in C.ROUTES_WITHOUT_CATEGORY
            and admin.integral_to is None
        ):
            raise EncounterError(
                "MISSING_CATEGORY",
                admin.id,
                f"{admin.hcpcs} ({admin.drug}) has no category in the codebook and none is given.",
            )
        items.append(Item(admin, drug, category, key, hormonal, vaccine_kind, electrolyte))
    return items


def _derive(encounter: Encounter, book: RulesBook) -> tuple[list[Line], list[tuple[str, str | None, str]]]:
    admins = encounter.administrations
    if not admins:
        return [], []
    date = dater(encounter.tz, encounter.timezone)
    first_date = date(admins[0].start)
    snapshot = book.for_iso(first_date)
    if snapshot is None:
        raise EncounterError(
            "NO_CODEBOOK_FOR_DATE", None, f"the codebook {book.version} has no rules for {first_date}."
        )
    payer = snapshot.payers.get(encounter.payer)
    unknown_payer = payer is None
    if unknown_payer:
        payer = snapshot.default_payer
    ctx = Context(encounter, snapshot, payer, date)
    if unknown_payer:
        ctx.warn(
            "UNKNOWN_PAYER",
            None,
            f"payer {encounter.payer!r} is not in the codebook; the default payer {payer.key} was used.",
        )
    items = _resolve(ctx, encounter)
    if encounter.billing_entity == "practice":
        for item in items:
            if item.admin.acquired_340b:
                raise EncounterError(
                    "NOT_340B_ENTITY",
                    item.id,
                    f"R19: {item.label} is marked 340B-acquired but the billing entity is a practice, "
                    "not a 340B covered entity.",
                )
    iv_items: list[Item] = []  # coded administrations by IV route (R1-R13), then the others (R14, R15)
    other_items: list[Item] = []
    for item in items:
        admin = item.admin
        if admin.integral_to is not None:
            ctx.warn(
                "INTEGRAL_TO_PROCEDURE",
                item.id,
                f"Conventions: {item.label} is integral to {admin.integral_to}; no administration line.",
            )
            continue
        if item.category is None and not item.vaccine_kind and admin.route not in C.ROUTES_WITHOUT_CATEGORY:
            ctx.warn(
                "UNKNOWN_DRUG",
                item.id,
                f"{item.label} has neither a codebook HCPCS nor a category; no administration line.",
            )
            continue
        if admin.route in _IV_ROUTES:
            iv_items.append(item)
        else:
            other_items.append(item)
    facility_pos = not ctx.facility and encounter.place_of_service in snapshot.facility_places_of_service
    lines: list[Line] = []
    if facility_pos:
        ctx.warn(
            "FACILITY_POS",
            None,
            f"R16: place of service {encounter.place_of_service} is a facility; the facility reports the "
            "administration and drug lines, the physician claim gets none.",
        )
        has_administration = any(item.admin.route != "oral" for item in items)
    else:
        admin_lines = _iv_lines(ctx, iv_items)
        if other_items:
            iv_dates = {line.date for line in admin_lines}
            admin_lines += code_standalone(ctx, other_items, iv_dates)
        if not ctx.facility and ctx.is_medicare:
            admin_lines = _g0498_follow_up(ctx, items, admin_lines)
        drug_lines = code_drugs(ctx, items)
        lines = admin_lines + drug_lines
        has_administration = bool(admin_lines)
    if encounter.em_code:
        em_line = _em_line(ctx, encounter, has_administration, lines, items)
        if em_line is not None:
            lines.append(em_line)
    lines = _check_addons(ctx, lines)
    _check_mue(ctx, lines)
    _facility_codes(ctx, lines)
    return lines, ctx.warnings


def _iv_lines(ctx: Context, items: list[Item]) -> list[Line]:
    """Conventions (groups) and R8: each group's sites in order, initial codes modified as needed."""
    if not items:
        ctx.encounter_entries = []
        return []
    first_key = items[0].admin.separate_encounter
    one_group = True
    for item in items:
        if item.admin.separate_encounter != first_key:
            one_group = False
            break
    if one_group:  # the usual case: no grouping pass
        groups = {first_key: items}
        order = [first_key]
    else:
        groups = {}
        for item in items:
            key = item.admin.separate_encounter
            group = groups.get(key)
            if group is None:
                groups[key] = [item]
            else:
                group.append(item)
        order = sorted(groups, key=lambda key: (key is not None, min(i.admin.start for i in groups[key]), key or ""))
    ctx_entries = []
    lines: list[Line] = []
    first_group_done = False
    for key in order:
        entries = code_group(ctx, groups[key], key)
        if not entries:
            continue
        # Conventions/R8: the first group with lines is the encounter; later groups carry XE (Medicare) or 59.
        separate = first_group_done
        first_group_done = True
        ordered = _site_order(ctx, entries) if len(entries) > 1 else entries
        for position, entry in enumerate(ordered):
            site_lines, initial = entry[1], entry[2]
            modifiers = []
            if initial is not None:
                if separate:
                    modifiers.append(ctx.payer.separate_encounter_modifier)
                if position > 0:
                    modifiers.append(ctx.payer.distinct_site_modifier)
                if modifiers and initial.line is not None:
                    _modify_initial(initial.line, site_lines, modifiers)
            lines.extend(site_lines)
            ctx_entries.append((key, position, entry, modifiers))
    ctx.encounter_entries = ctx_entries
    return lines


def _modify_initial(initial_line: Line, site_lines: list[Line], modifiers: list[str]) -> None:
    """R8: the modifier goes on the initial code and its additional-hour units only."""
    for line in site_lines:
        if line is initial_line or line.parent is initial_line:
            for modifier in modifiers:
                if modifier not in line.modifiers:
                    line.modifiers.append(modifier)
            if line is initial_line:
                line.explanation = line.explanation[:-1] + f"; R8: {'/'.join(modifiers)} (separate site or encounter)."


def _site_order(ctx: Context, entries: list) -> list:
    """R8: the unmodified site first: the one whose initial is column 1 of the PTP pair (no pair: higher rank,
    same rank: earlier start)."""
    if len(entries) < 2:
        return list(entries)
    ptp = ctx.snapshot.ptp

    def beats(a, b) -> bool:
        ia, ib = a[2], b[2]
        if ia is None or ib is None or ia.line is None or ib.line is None:
            return ib is None or ib.line is None
        ca, cb = ia.line.code, ib.line.code
        if (ca, cb) in ptp and ptp[(ca, cb)] != "9":
            return True
        if (cb, ca) in ptp and ptp[(cb, ca)] != "9":
            return False
        if ia.rank != ib.rank:
            return ia.rank < ib.rank
        return (ia.start, a[0]) <= (ib.start, b[0])

    remaining = sorted(entries, key=lambda e: (e[2].rank if e[2] else 9, e[2].start if e[2] else 0, e[0]))
    ordered = []
    while remaining:
        best = remaining[0]
        for candidate in remaining[1:]:
            if not beats(best, candidate):
                best = candidate
        ordered.append(best)
        remaining.remove(best)
    return ordered


def _g0498_follow_up(ctx: Context, items: list[Item], lines: list[Line]) -> list[Line]:
    """R15: the Medicare visit that only disconnects a practice-supplied G0498 pump has no 96521/96523 or E/M."""
    ctx.g0498_follow_up = False  # type: ignore[attr-defined]
    if ctx.facility or not ctx.is_medicare:
        return lines
    disconnects = [i for i in items if i.admin.route == "pump_disconnect" and i.admin.pump_supplied_by == "provider"]
    if not disconnects:
        return lines
    others = [i for i in items if i.admin.route not in ("pump_disconnect", "port_flush", "pump_refill", "oral")]
    if others:
        return lines
    ctx.g0498_follow_up = True  # type: ignore[attr-defined]
    ctx.warn(
        "G0498_FOLLOW_UP_INCLUDED",
        disconnects[0].id,
        "R15: this visit disconnects a practice-supplied pump started under G0498, which includes it; no "
        "96521, 96523 or E/M.",
    )
    return [line for line in lines if line.code not in (C.PUMP_REFILL_PORTABLE, C.PUMP_REFILL_IMPLANTED, C.PORT_FLUSH)]


def _em_line(
    ctx: Context, encounter: Encounter, has_administration: bool, lines: list[Line], items: list[Item]
) -> Line | None:
    """R17: E/M with administration: 99211 bundled; others need 25 (separately identifiable) or are dropped."""
    code = encounter.em_code
    if not code:
        return None
    if getattr(ctx, "g0498_follow_up", False):
        return None
    date = (
        local_date(encounter.tz, encounter.timezone, encounter.administrations[0].start)
        if encounter.administrations
        else None
    )
    if code == C.EM_BUNDLED and has_administration:
        ctx.warn("EM_99211_BUNDLED", None, "R17: 99211 is not reported in an encounter with drug administration.")
        return None
    modifiers = []
    reported = code
    notes = []
    if ctx.facility and ctx.payer.facility_em_code and C.EM_OFFICE_RANGE[0] <= code <= C.EM_OFFICE_RANGE[1]:
        reported = ctx.payer.facility_em_code
        notes.append(f"facility {ctx.payer.name} outpatient visit {code} -> {reported}")
    if has_administration:
        if not encounter.em_separate:
            ctx.warn(
                "EM_NOT_SEPARATE",
                None,
                f"R17: E/M {code} is not documented as separately identifiable from the drug administration; "
                "not reported.",
            )
            return None
        modifiers.append(C.MODIFIER_EM)
        notes.append("separately identifiable with drug administration -> 25")
    else:
        notes.append("no administration lines, no 25")
    line = Line(reported, 1, date, (), "em", "R17: " + "; ".join(notes) + ".")
    line.modifiers.extend(modifiers)
    return line


def _check_addons(ctx: Context, lines: list[Line]) -> list[Line]:
    """R20: an add-on needs an eligible primary on the claim (facility) or date (professional); R18 date split."""
    table = ctx.snapshot.addon_primaries
    codes = ctx.snapshot.codes
    facility = ctx.facility

    empty: frozenset = frozenset()
    addon_codes = ctx.snapshot.cache.get("addon-codes")
    if addon_codes is None:
        addon_codes = frozenset(table) | frozenset(code for code, info in codes.items() if info.kind == "addon")
        ctx.snapshot.cache["addon-codes"] = addon_codes

    def failing(current: list[Line]) -> list[Line]:
        if facility:
            claim_codes = {line.code for line in current}
            if addon_codes.isdisjoint(claim_codes):
                return []
            return [
                line
                for line in current
                if line.code in addon_codes and line.units > 0 and table.get(line.code, empty).isdisjoint(claim_codes)
            ]
        addons = [line for line in current if line.code in addon_codes]
        if not addons:
            return []
        present = set(current)  # lines hash by identity
        by_date: dict = {}
        for line in current:
            by_date.setdefault(line.date, set()).add(line.code)
        bad = []
        for line in addons:
            if line.units <= 0:
                continue
            if line.later_day and line.anchor is not None and line.anchor in present:
                continue
            if table.get(line.code, empty).isdisjoint(by_date[line.date]):
                bad.append(line)
        return bad

    bad = failing(lines)
    if bad:
        entries = getattr(ctx, "encounter_entries", [])
        for _key, _position, entry, modifiers in entries:
            site_lines = entry[1]
            if not any(line in site_lines for line in bad):
                continue
            if ctx.facility:
                continue
            saved = (ctx.concurrent_done, ctx.unlisted_done)
            ctx.concurrent_done = ctx.unlisted_done = False
            new_lines, initial = recode_site(ctx, entry)
            if not ctx.concurrent_done:
                ctx.concurrent_done = saved[0]
            if not ctx.unlisted_done:
                ctx.unlisted_done = saved[1]
            if modifiers and initial is not None and initial.line is not None:
                _modify_initial(initial.line, new_lines, modifiers)
            index = lines.index(site_lines[0]) if site_lines and site_lines[0] in lines else len(lines)
            lines = [line for line in lines if line not in site_lines]
            lines[index:index] = new_lines
        bad = failing(lines)
    if bad:
        # Drop to a fixed point: an hour line whose own primary add-on was dropped loses its primary too.
        dropped_lines = list(bad)
        gone = {id(line) for line in bad}
        remaining = [line for line in lines if id(line) not in gone]
        while True:
            more = failing(remaining)
            if not more:
                break
            dropped_lines.extend(more)
            gone = {id(line) for line in more}
            remaining = [line for line in remaining if id(line) not in gone]
        for line in dropped_lines:
            ctx.warn(
                "ADDON_WITHOUT_PRIMARY",
                line.admins[0] if line.admins else None,
                f"R20: add-on {line.code} has no eligible primary "
                f"{'on the claim' if facility else 'on ' + str(line.date)}; dropped.",
            )
        lines = remaining
    if not facility:
        present = set(lines)  # lines hash by identity
        for line in lines:
            if line.later_day and line.anchor is not None and line.anchor in present:
                ctx.warn(
                    "ADDON_DATE_SPLIT",
                    line.admins[0] if line.admins else None,
                    f"R18, R20: {line.units} unit(s) of {line.code} dated {line.date}, a later day than "
                    f"{line.anchor.code} ({line.anchor.date}); kept for coder review.",
                )
    return lines


def _check_mue(ctx: Context, lines: list[Line]) -> None:
    """R20: units per code and date above the codebook's MUE for the setting -> MUE_EXCEEDED (not cut)."""
    cache_key = ("mue-limits", ctx.setting)
    limits = ctx.snapshot.cache.get(cache_key)
    if limits is None:
        limits = {
            code: (info.mue_facility if ctx.facility else info.mue_professional)
            for code, info in ctx.snapshot.codes.items()
            if (info.mue_facility if ctx.facility else info.mue_professional) is not None
        }
        ctx.snapshot.cache[cache_key] = limits
    # Units per code over all dates bound the units per code and date: most encounters stop here.
    by_code: dict[str, int] = {}
    over = False
    for line in lines:
        limit = limits.get(line.code)
        if limit is not None:
            units = by_code.get(line.code, 0) + line.units
            by_code[line.code] = units
            if units > limit:
                over = True
    if not over:
        return
    totals: dict[tuple[str, str], int] = {}
    for line in lines:
        if line.code in limits:
            key = (line.code, line.date)
            totals[key] = totals.get(key, 0) + line.units
    codes = ctx.snapshot.codes
    for (code, date), units in totals.items():
        info = codes.get(code)
        if info is None:
            continue
        limit = info.mue_facility if ctx.facility else info.mue_professional
        if limit is not None and units > limit:
            first = next(line for line in lines if line.code == code and line.date == date)
            ctx.warn(
                "MUE_EXCEEDED",
                first.admins[0] if first.admins else None,
                f"R20: {units} units of {code} on {date} exceed the {ctx.setting} MUE of {limit}"
                f"{'' if info.mue_verified else ' (seed value, unverified)'}; units are not cut.",
            )


def _facility_codes(ctx: Context, lines: list[Line]) -> None:
    """R18: facility revenue codes (a JW line copies its drug line's) and PO/PN on every line."""
    if not ctx.facility:
        for line in lines:
            line.revenue_code = None
        return
    by_code = ctx.snapshot.cache.get("revenue-by-code")
    if by_code is None:
        by_code = {code: info.revenue_code for code, info in ctx.snapshot.codes.items() if info.revenue_code}
        ctx.snapshot.cache["revenue-by-code"] = by_code
    revenue = ctx.snapshot.revenue_codes
    department = C.DEPARTMENT_MODIFIERS.get(ctx.encounter.department_status)
    for line in lines:
        kind = line.kind
        if kind != "drug":
            code = by_code.get(line.code)
            if code is not None:
                line.revenue_code = code
            elif kind == "em":
                line.revenue_code = revenue["emergency"] if line.code.startswith("9928") else revenue["clinic_visit"]
            else:
                line.revenue_code = revenue["administration"]
        if department:
            line.modifiers.append(department)
