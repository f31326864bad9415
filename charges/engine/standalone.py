"""Stand-alone services outside the IV hierarchy: injections, vaccines, intra-arterial, SC infusion, pumps,
ports and catheters (R14, R15).

Sources (coding-rules-reference.md): injections [S36][S-medicalcoding123]; split doses [S-aapc divided dose]
(CONFLICT C10); hormonal chemo [S42] (C7); pumps and G0498 [S46][S47][S48][S49][S50]; port flush
[S40][S65][S66]; on-body injector (section 1.2).
"""

from __future__ import annotations

from . import constants as C
from .context import Context, Item
from .hierarchy import addl_hours
from .intervals import union
from .types import Line

_NOT_SERVICES = frozenset({"port_flush", "pump_disconnect", "oral"})


def _line(ctx: Context, code: str, item_or_ids, minute: int, explanation: str, units: int = 1) -> Line:
    ids = (item_or_ids.id,) if isinstance(item_or_ids, Item) else tuple(item_or_ids)
    return Line(code, units, ctx.date(minute), ids, "administration", explanation)


def code_standalone(ctx: Context, items: list[Item], iv_dates: set[str]) -> list[Line]:
    """All stand-alone lines of the encounter, in time order (R21: after the IV groups)."""
    if not items:
        return []
    lines: list[Line] = []
    injections: list[Item] = []
    vaccines: list[Item] = []
    sc_infusions: list[Item] = []
    flushes: list[Item] = []
    disconnects: list[Item] = []
    clearances: list[Item] = []
    for item in items:
        admin = item.admin
        route = admin.route
        if item.vaccine_kind and route in ("sc", "im", "sc_infusion"):
            vaccines.append(item)
            continue
        if route in ("sc", "im"):
            injections.append(item)
        elif route == "sc_infusion":
            if admin.stop is None and not ctx.payer.missing_stop_as_push:
                ctx.warn("MISSING_STOP_TIME", item.id, f"R2: {item.label} SC infusion has no stop time; not reported.")
            elif admin.stop is None or item.own <= C.PUSH_MAX_MINUTES:
                injections.append(item)
            else:
                sc_infusions.append(item)
        elif route == "intra_arterial":
            lines.extend(_intra_arterial_push(ctx, item))
        elif route == "intra_arterial_infusion":
            if admin.stop is None and not ctx.payer.missing_stop_as_push:
                ctx.warn("MISSING_STOP_TIME", item.id, f"R2: {item.label} intra-arterial infusion has no stop time.")
            elif admin.stop is None or item.own <= C.PUSH_MAX_MINUTES:
                lines.extend(_intra_arterial_push(ctx, item))
            elif item.category == "chemo":
                lines.extend(_intra_arterial_infusion(ctx, item))
            else:
                _unsupported(ctx, item)
        elif route == "intralesional":
            if item.category == "chemo":
                lines.append(
                    _line(
                        ctx,
                        C.CHEMO_INTRALESIONAL,
                        item,
                        admin.start,
                        f"R14: intralesional chemotherapy ({item.label}) -> 96405.",
                    )
                )
            else:
                _unsupported(ctx, item)
        elif route == "intrathecal":
            if item.category == "chemo":
                lines.append(
                    _line(
                        ctx,
                        C.CHEMO_INTRATHECAL,
                        item,
                        admin.start,
                        f"R14: intrathecal chemotherapy ({item.label}) -> 96450.",
                    )
                )
            else:
                _unsupported(ctx, item)
        elif route == "pump_prolonged":
            lines.extend(_pump_start(ctx, item))
        elif route == "pump_refill":
            code = C.PUMP_REFILL_IMPLANTED if admin.pump_type == "implanted" else C.PUMP_REFILL_PORTABLE
            lines.append(
                _line(
                    ctx, code, item, admin.start, f"R15: refill and maintenance of a {admin.pump_type} pump -> {code}."
                )
            )
        elif route == "pump_disconnect":
            disconnects.append(item)
        elif route == "port_flush":
            flushes.append(item)
        elif route == "catheter_clearance":
            clearances.append(item)
        elif route == "on_body_injector":
            lines.append(
                _line(
                    ctx,
                    C.ON_BODY_INJECTOR,
                    item,
                    admin.start,
                    f"R15: on-body injector applied for {item.label} -> 96377 on the application date "
                    "(never 96372 or 96401).",
                )
            )
    lines.extend(_injections(ctx, injections))
    lines.extend(_vaccines(ctx, vaccines))
    lines.extend(_sc_infusions(ctx, sc_infusions))
    clearance_dates = set()
    for item in clearances:
        date = ctx.date(item.admin.start)
        if date in clearance_dates:
            continue
        clearance_dates.add(date)
        lines.append(
            _line(
                ctx,
                C.CATHETER_CLEARANCE,
                item,
                item.admin.start,
                f"R15: thrombolytic instilled to restore catheter patency ({item.label}) -> 36593 once for the date.",
            )
        )
    lines.extend(_port_flushes(ctx, flushes, disconnects, clearance_dates, iv_dates, items))
    if len(lines) > 1:
        starts = {item.id: item.admin.start for item in items}
        lines.sort(key=lambda line: (line.date, _first_start(line, starts), line.code))
    return lines


def _first_start(line: Line, starts: dict[str, int]) -> int:
    """The earliest start of the line's administrations (0 when none is a stand-alone one)."""
    return min((starts[i] for i in line.admins if i in starts), default=0)


def _unsupported(ctx: Context, item: Item) -> None:
    ctx.warn(
        "UNSUPPORTED_ROUTE",
        item.id,
        f"R14: route {item.admin.route} with category {item.category or 'unknown'} has no administration "
        f"code here ({item.label}); no line.",
    )


def _intra_arterial_push(ctx: Context, item: Item) -> list[Line]:
    """R14: intra-arterial push 96373 (therapeutic) or 96420 (chemo)."""
    if item.category == "chemo":
        code = C.IA_PUSH_CHEMO
    elif item.category == "therapeutic":
        code = C.IA_PUSH_THERAPEUTIC
    else:
        _unsupported(ctx, item)
        return []
    return [_line(ctx, code, item, item.admin.start, f"R1, R14: intra-arterial push of {item.label} -> {code}.")]


def _intra_arterial_infusion(ctx: Context, item: Item) -> list[Line]:
    """R9/R10: chemo intra-arterial infusion 96422 + 96423 per additional hour."""
    T = item.own
    base = _line(
        ctx,
        C.IA_INFUSION_INITIAL,
        item,
        item.admin.start,
        f"R9: chemotherapy intra-arterial infusion of {item.label}, {T} billable minutes -> 96422.",
    )
    lines = [base]
    hours = addl_hours(T)
    if hours:
        hour = Line(
            C.IA_INFUSION_HOUR,
            hours,
            base.date,
            base.admins,
            "administration",
            f"R10: {T} billable minutes; 96422 covers up to 90 -> {hours}.",
            base,
        )
        lines.append(hour)
    return lines


def _injections(ctx: Context, injections: list[Item]) -> list[Line]:
    """R14: SC/IM injections, split doses within 10 minutes joined, further same-code lines modified."""
    joined: list[list[Item]] = []
    open_by_key: dict[tuple, list[Item]] = {}
    for item in sorted(injections, key=lambda i: (i.admin.start, i.id)):
        key = (item.key, "sc" if item.admin.route in ("sc", "sc_infusion") else item.admin.route)
        current = open_by_key.get(key)
        if (
            current is not None
            and not ctx.payer.split_dose_per_injection
            and item.admin.start - max(i.admin.end for i in current) <= C.SPLIT_DOSE_MAX_GAP
        ):
            current.append(item)
            ctx.warn(
                "SPLIT_DOSE",
                item.id,
                f"R14: {item.label} by the same route within 10 minutes of {current[0].id} is one split dose "
                "(one injection).",
            )
            continue
        group = [item]
        open_by_key[key] = group
        joined.append(group)
    lines = []
    seen_codes: dict[str, int] = {}
    for group in joined:
        item = group[0]
        if item.category == "chemo":
            code = C.INJECTION_CHEMO_HORMONAL if item.hormonal else C.INJECTION_CHEMO
            what = "hormonal chemotherapy" if item.hormonal else "non-hormonal chemotherapy"
        elif item.category == "therapeutic":
            code, what = C.INJECTION_THERAPEUTIC, "therapeutic"
        else:
            _unsupported(ctx, item)
            continue
        count = seen_codes.get(code, 0)
        seen_codes[code] = count + 1
        line = _line(
            ctx,
            code,
            [i.id for i in group],
            item.admin.start,
            f"R14: {what} {item.admin.route.upper() if item.admin.route != 'sc_infusion' else 'SC'} "
            f"injection of {item.label} -> {code}"
            + (f"; a further {code} in this encounter carries the distinct-site modifier." if count else "."),
        )
        if count:
            line.modifiers.append(ctx.payer.distinct_site_modifier)
        lines.append(line)
    return lines


def _vaccines(ctx: Context, vaccines: list[Item]) -> list[Line]:
    """R14: vaccine administration: Medicare G0008/G0009/G0010; otherwise 90471 then 90472."""
    mapping = ctx.payer.vaccine_admin_codes
    lines = []
    others = 0
    for item in sorted(vaccines, key=lambda i: (i.admin.start, i.id)):
        kind = item.vaccine_kind
        if kind in mapping:
            code = mapping[kind]
            lines.append(
                _line(
                    ctx,
                    code,
                    item,
                    item.admin.start,
                    f"R14: {kind.replace('_', ' ')} vaccine administration for {ctx.payer.name} -> {code}.",
                )
            )
            continue
        first = mapping.get("first", C.VACCINE_FIRST_DEFAULT)
        additional = mapping.get("additional", C.VACCINE_ADDITIONAL_DEFAULT)
        code = first if others == 0 else additional
        lines.append(
            _line(
                ctx,
                code,
                item,
                item.admin.start,
                f"R14: vaccine administration ({item.label}) -> {code}"
                + (" (first vaccine)." if others == 0 else " (each further vaccine)."),
            )
        )
        others += 1
    return lines


def _sc_infusions(ctx: Context, items: list[Item]) -> list[Line]:
    """R9/R10/R11: SC infusion 96369 (+96370 hours) on the first site; 96371 for each further site."""
    if not items:
        return []
    sites: dict[str, list[Item]] = {}
    for item in sorted(items, key=lambda i: (i.admin.start, i.id)):
        sites.setdefault(item.admin.site, []).append(item)
    order = sorted(sites, key=lambda s: (sites[s][0].admin.start, s))
    first = sites[order[0]]
    run = union(interval for item in first for interval in item.run)
    T = sum(stop - start for start, stop in run)
    ids = [item.id for item in first]
    base = _line(
        ctx,
        C.SC_INFUSION_INITIAL,
        ids,
        first[0].admin.start,
        f"R9: subcutaneous infusion ({first[0].label}), {T} billable minutes -> 96369.",
    )
    lines = [base]
    hours = addl_hours(T)
    if hours:
        lines.append(
            Line(
                C.SC_INFUSION_HOUR,
                hours,
                base.date,
                base.admins,
                "administration",
                f"R10: {T} billable minutes; 96369 covers up to 90 -> {hours}.",
                base,
            )
        )
    for site in order[1:]:
        group = sites[site]
        lines.append(
            Line(
                C.SC_INFUSION_NEW_SITE,
                1,
                ctx.date(group[0].admin.start),
                tuple(i.id for i in group),
                "administration",
                f"R11: additional SC infusion site {site} with a new pump set-up -> 96371.",
                base,
            )
        )
    return lines


def _pump_start(ctx: Context, item: Item) -> list[Line]:
    """R15: prolonged infusion started on a pump: 96416 / G0498 (Medicare, provider pump) / C8957 (non-chemo)."""
    admin = item.admin
    if item.category == "chemo":
        g0498 = ctx.snapshot.codes.get(C.PUMP_G0498)
        g0498_here = ctx.is_medicare and g0498 is not None and ctx.setting in g0498.settings
        if g0498_here and admin.pump_supplied_by == "provider":
            return [
                _line(
                    ctx,
                    C.PUMP_G0498,
                    item,
                    admin.start,
                    f"R15: chemotherapy pump ({item.label}) supplied by the practice, Medicare -> G0498, which "
                    "includes the administration, the pump and the disconnect visit.",
                )
            ]
        if ctx.is_medicare and admin.pump_supplied_by is None:
            ctx.warn(
                "PUMP_SUPPLIER_UNKNOWN",
                item.id,
                f"R15: who supplied the pump for {item.label} is not documented; coded 96416 (G0498 on a "
                "Medicare physician claim if the practice supplied it).",
            )
        return [
            _line(
                ctx,
                C.PUMP_CHEMO,
                item,
                admin.start,
                f"R15: initiation of a prolonged chemotherapy infusion ({item.label}) on a pump -> 96416.",
            )
        ]
    code = ctx.payer.prolonged_pump_code_facility if ctx.facility else ""
    if code:
        return [
            _line(
                ctx,
                code,
                item,
                admin.start,
                f"R15: initiation of a prolonged non-chemotherapy infusion ({item.label}) on a pump, facility "
                f"{ctx.payer.name} -> {code}.",
            )
        ]
    ctx.warn(
        "PUMP_NON_CHEMO",
        item.id,
        f"R15: prolonged non-chemotherapy pump start ({item.label}) has no code in the "
        f"{ctx.setting} setting for {ctx.payer.name}; no line.",
    )
    return []


def _port_flushes(ctx: Context, flushes, disconnects, clearance_dates, iv_dates, items) -> list[Line]:
    """R15: 96523 only when no other service of any kind is on that date (a disconnect is not a service)."""
    if not flushes:
        return []
    busy = set(iv_dates) | set(clearance_dates)
    for item in items:
        if item.admin.route not in _NOT_SERVICES:
            busy.add(ctx.date(item.admin.start))
    encounter = ctx.encounter
    lines = []
    done = set()
    disconnect_dates = {ctx.date(item.admin.start) for item in disconnects}
    for item in sorted(flushes, key=lambda i: (i.admin.start, i.id)):
        date = ctx.date(item.admin.start)
        if date in done:
            continue
        done.add(date)
        if date in busy or encounter.other_services or encounter.em_code:
            continue
        if date in disconnect_dates:
            ctx.warn(
                "PUMP_DISCONNECT_FLUSH",
                item.id,
                "R15: port flush at a pump disconnect visit is kept as the only service; coder review.",
            )
        lines.append(
            _line(
                ctx, C.PORT_FLUSH, item, item.admin.start, "R15: port flush is the only service on this date -> 96523."
            )
        )
    return lines
