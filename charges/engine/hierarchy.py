"""IV services of one encounter group: timeline, sites, initial service and what follows (R1-R13, R8).

Sources (coding-rules-reference.md): push/infusion [S5][S6]; hydration [S8][S9][S22][S38][S39];
overlaps and concurrency [S25][S27][S28][S29][S31]; hierarchy [S1][S5][S36][S53][S54]; additional hours
[S24][S36]; same drug again [S32][S33][S35][S67]; sites and separate encounters [S10][S23][S52];
crossing midnight [S1][S2][S3][S34].
"""

from __future__ import annotations

from operator import attrgetter

from . import constants as C
from .context import Context, Item
from .intervals import contiguous_at_least, length, minute_instant, overlap, subtract, union
from .types import Line

_KEY_SETS: dict[str, frozenset] = {}  # drug identity key -> frozenset((key,)), shared by every service


class Service:
    """One infusion (a bag, or same-drug infusions joined by R6), push or hydration service on a site."""

    __slots__ = (
        "items",
        "ids",
        "category",
        "keys",
        "label",
        "start",
        "stop",
        "run",
        "own",
        "site",
        "kind",
        "purpose",
        "primary",
        "rank",
        "billable",
        "repeat_of",
        "repeat_units",
        "role",
        "line",
        "long_push",
    )

    def __init__(self, items: list[Item], category: str, kind: str, purpose: str | None = None) -> None:
        self.items = items
        self.category = category
        if len(items) == 1:
            item = items[0]
            admin = item.admin
            self.ids = (item.id,)
            keys = _KEY_SETS.get(item.key)
            if keys is None:
                keys = _KEY_SETS[item.key] = frozenset((item.key,))
                if len(_KEY_SETS) > 100_000:
                    _KEY_SETS.clear()
            self.keys = keys
            self.label = item.label
            self.start = admin.start
            self.stop = admin.start if admin.stop is None else admin.stop
            self.run = item.run
            self.own = item.own
            self.primary = admin.primary_reason
        else:
            self.ids = tuple(sorted(item.id for item in items))
            keys = frozenset(item.key for item in items if item.category != "hydration" or category == "hydration")
            self.keys = keys or frozenset(item.key for item in items)
            self.label = " + ".join(dict.fromkeys(item.label for item in items))
            self.start = min(item.admin.start for item in items)
            self.stop = max(item.admin.end for item in items)
            self.run = union(interval for item in items for interval in item.run)
            self.own = length(self.run)
            self.primary = any(item.admin.primary_reason for item in items)
        self.site = items[0].site
        self.kind = kind  # "infusion", "push", "hydration", "fluid"
        self.purpose = purpose
        self.rank = 0
        self.billable = self.run
        self.repeat_of: Service | None = None
        self.repeat_units: tuple[int, ...] | list[int] = ()  # R13: minutes since the prior reported push
        self.role = ""
        self.line: Line | None = None
        self.long_push = False

    @property
    def first_id(self) -> str:
        return min(self.items, key=lambda item: (item.admin.start, item.id)).id

    def push_interval(self) -> tuple[int, int]:
        return (self.start, self.stop)


def addl_hours(minutes: int) -> int:
    """R10: additional-hour units of an infusion of MINUTES billable minutes: max(0, floor((T - 31) / 60))."""
    return max(0, (minutes - C.ADDL_HOUR_OFFSET) // C.MINUTES_PER_HOUR)


def secondary_hydration_units(minutes: int) -> int:
    """R11: 96361 units of hydration after another initial: floor((T - 31) / 60) + 1 for T >= 31."""
    if minutes < C.HYDRATION_MIN_MINUTES:
        return 0
    return (minutes - C.ADDL_HOUR_OFFSET) // C.MINUTES_PER_HOUR + 1


def _thresholds(first: int, count: int) -> str:
    if count == 1:
        return str(first)
    marks = [str(first + C.MINUTES_PER_HOUR * k) for k in range(count)]
    if len(marks) > 6:
        marks = marks[:3] + ["..."] + marks[-1:]
    return ", ".join(marks)


# ------------------------------------------------------------------------------------------------ building


def build_services(ctx: Context, items: list[Item]) -> list[Service]:
    """R5 mixed bags and R1/R2/R3 classification of the group's IV administrations into services."""
    bags: dict[str, list[Item]] | None = None
    for item in items:
        if item.admin.bag:
            bags = {}
            break
    if bags is None:
        singles = items  # no mixed bags (the usual case)
    else:
        singles = []
        for item in items:
            bag = item.admin.bag
            if bag:
                bags.setdefault(bag, []).append(item)
            else:
                singles.append(item)
    units: list[tuple[list[Item], str, str | None]] = []
    if bags:
        for bag in sorted(bags, key=lambda b: (min(i.admin.start for i in bags[b]), b)):
            members = bags[bag]
            units.append(_bag_unit(ctx, members))
    for item in singles:
        category = item.category
        purpose = item.admin.purpose
        if item.electrolyte and purpose == "electrolyte_replacement" and category != "chemo":
            category = "therapeutic"
            ctx.warn(
                "ELECTROLYTE_THERAPEUTIC",
                item.id,
                f"R5: {item.label} is documented as electrolyte replacement; coded as a therapeutic infusion.",
            )
        units.append(([item], category, purpose))
    services: list[Service] = []
    for members, category, purpose in units:
        service = _classify(ctx, members, category, purpose)
        if service is not None:
            services.append(service)
    return services


def _bag_unit(ctx: Context, members: list[Item]) -> tuple[list[Item], str, str | None]:
    """R5: one infusion per bag, coded by its highest category; electrolyte-only additives make hydration."""
    categories = {item.category for item in members}
    purposes = [item.admin.purpose for item in members if item.admin.purpose]
    if "chemo" in categories:
        return members, "chemo", None
    additives = [item for item in members if item.category != "hydration"]
    if additives and all(item.electrolyte for item in additives):
        replacement = [item for item in additives if item.admin.purpose == "electrolyte_replacement"]
        if replacement:
            ctx.warn(
                "ELECTROLYTE_THERAPEUTIC",
                replacement[0].id,
                f"R5: bag {members[0].admin.bag} adds {replacement[0].label} as documented electrolyte replacement; "
                "coded as a therapeutic infusion.",
            )
            return members, "therapeutic", None
        purpose = "hydration" if "hydration" in purposes else (purposes[0] if purposes else None)
        return members, "hydration", purpose
    if additives:
        return members, "therapeutic", None
    purpose = "hydration" if "hydration" in purposes else (purposes[0] if purposes else None)
    return members, "hydration", purpose


def _classify(ctx: Context, members: list[Item], category: str, purpose: str | None) -> Service | None:
    """R1 push or infusion, R2 missing stop, R3 hydration versus other fluid."""
    first = members[0]
    if len(members) == 1:
        route_push = first.admin.route == "iv_push"
        missing_stop = first.admin.stop is None and not route_push
    else:
        route_push = all(item.admin.route == "iv_push" for item in members)
        missing_stop = any(item.admin.stop is None for item in members) and not route_push
    if category == "hydration":
        if missing_stop:
            ctx.warn("MISSING_STOP_TIME", first.id, f"R2: {first.label} has no stop time; hydration is not reported.")
            return None
        return Service(members, category, "hydration" if purpose == "hydration" else "fluid", purpose)
    if missing_stop:
        if ctx.payer.missing_stop_as_push:
            service = Service(members, category, "push")
            service.stop = service.start
            service.run = []
            service.own = 0
            ctx.warn(
                "MISSING_STOP_TIME",
                first.id,
                f"R2: {first.label} has no stop time; reported as a push (payer setting missing_stop_as_push).",
            )
            return service
        ctx.warn(
            "MISSING_STOP_TIME",
            first.id,
            f"R2: {first.label} infusion has no stop time; no administration line until it is documented.",
        )
        return None
    service = Service(members, category, "push" if route_push else "infusion")
    if route_push:
        if service.own > C.LONG_PUSH_OVER_MINUTES:
            service.long_push = True
            ctx.warn(
                "LONG_PUSH",
                first.id,
                f"R1: {first.label} is charted as an IV push but ran {service.own} minutes; coded as a push.",
            )
    elif service.own <= C.PUSH_MAX_MINUTES:
        service.kind = "push"
    return service


def _merge_same_drug(infusions: list[Service]) -> list[Service]:
    """R6: same drug on one site, overlapping, touching or at most 10 minutes apart -> one infusion."""
    # INFUSIONS come in time order; the result is in time order too.
    by_key: dict[tuple, list[Service]] = {}
    for service in infusions:
        by_key.setdefault((service.site, service.keys), []).append(service)
    if len(by_key) == len(infusions):
        return infusions  # one infusion per drug and site: nothing to join
    result: list[Service] = []
    for group in by_key.values():
        current = group[0]
        for service in group[1:]:
            if service.start <= current.stop + C.SAME_DRUG_MAX_GAP:
                merged = Service(current.items + service.items, current.category, "infusion")
                current = merged
            else:
                result.append(current)
                current = service
        result.append(current)
    result.sort(key=_time_key)
    return result


# ------------------------------------------------------------------------------------------------ group


def assign_sites(ctx: Context, items: list[Item]) -> None:
    """Conventions (Sites): pool administrations on other sites with the group's first site unless required."""
    site = items[0].admin.site
    for item in items:
        if item.admin.site != site:
            break
    else:
        return  # one site: nothing to pool
    sites: dict[str, list[Item]] = {}
    for item in items:
        sites.setdefault(item.admin.site, []).append(item)
    required = {site for site, members in sites.items() if any(m.admin.separate_site_required for m in members)}
    candidates = [site for site in sites if site not in required] or list(sites)
    first_site = min(candidates, key=lambda s: (min((m.admin.start, m.id) for m in sites[s]), s))
    for site, members in sites.items():
        if site == first_site or site in required:
            continue
        for member in members:
            member.site = first_site
            ctx.warn(
                "SECOND_SITE_UNSUPPORTED",
                member.id,
                f"Conventions: site {site} has no documented need for separate access; {member.label} is coded "
                f"as given on site {first_site}.",
            )


def code_group(ctx: Context, items: list[Item], label: str | None) -> list[tuple[str, list[Line], Service | None]]:
    """All IV lines of one encounter group, per site: [(site, lines, initial service)] in R8/R21 order."""
    assign_sites(ctx, items)
    services = build_services(ctx, items)
    hydration = []
    fluids = []
    pushes = []
    infusions = []
    for service in services:
        kind = service.kind
        if kind == "infusion":
            infusions.append(service)
        elif kind == "push":
            pushes.append(service)
        elif kind == "hydration":
            hydration.append(service)
        else:
            fluids.append(service)
    if len(pushes) > 1:
        pushes.sort(key=_time_key)
    infused_keys: set = set()
    if len(infusions) > 1:
        infusions.sort(key=_time_key)
        infusions = _merge_same_drug(infusions)
        # R13: a later infusion of a drug already infused in the group (more than 10 minutes after) is a repeat.
        first_by_key: dict[frozenset, Service] = {}
        for service in infusions:
            keys = service.keys
            earlier = first_by_key.get(keys)
            if earlier is None:
                first_by_key[keys] = service
                infused_keys |= keys
            elif service.start > _origin(earlier).stop + C.SAME_DRUG_MAX_GAP:
                service.repeat_of = _origin(earlier)
    elif infusions:
        infused_keys |= infusions[0].keys
    # Blocking activity for hydration (R3): every non-hydration infusion and documented push of the group.
    if hydration or fluids:
        blocking = union(
            [interval for s in infusions for interval in s.run]
            + [(s.start, s.stop) for s in pushes if s.stop > s.start]
        )
        site_hydration = _hydration_minutes(ctx, hydration, fluids, blocking)
    else:
        site_hydration = {}
    if len(pushes) > 1:
        _check_overlapping_pushes(ctx, pushes)
    reported = _classify_pushes(ctx, pushes, infusions, infused_keys) if pushes else pushes
    # Sites of the group.
    sites = {s.site for s in infusions}
    for push in reported:
        sites.add(push.site)
    if site_hydration:
        sites.update(site_hydration)
    use_primary = not ctx.facility
    results = []
    if len(sites) == 1:
        site = next(iter(sites))
        hyd = site_hydration.get(site) if site_hydration else None
        lines, initial = _code_site(ctx, site, infusions, reported, hyd, use_primary)
        if lines:
            results.append((site, lines, initial, infusions, reported, hyd))
        return results
    for site in sorted(sites):
        site_infusions = [s for s in infusions if s.site == site]
        site_pushes = [s for s in reported if s.site == site]
        hyd = site_hydration.get(site)
        lines, initial = _code_site(ctx, site, site_infusions, site_pushes, hyd, use_primary=use_primary)
        if lines:
            results.append((site, lines, initial, site_infusions, site_pushes, hyd))
    return results


_time_key = attrgetter("start", "ids")  # time order of services: (start, ids)


def recode_site(ctx: Context, entry) -> tuple[list[Line], Service | None]:
    """R20: re-derive one site with the facility hierarchy (when a primary_reason choice left an add-on alone)."""
    site, _lines, _initial, site_infusions, site_pushes, hyd = entry
    for service in site_infusions + site_pushes:
        service.line = None
        service.billable = service.run
    return _code_site(ctx, site, site_infusions, site_pushes, hyd, use_primary=False, quiet=True)


def _origin(service: Service) -> Service:
    while service.repeat_of is not None:
        service = service.repeat_of
    return service


def _hydration_minutes(ctx: Context, hydration: list[Service], fluids: list[Service], blocking) -> dict:
    """R3/R4: countable hydration minutes of the group, per site; warnings for short or undocumented fluid."""
    result: dict[str, tuple[list, Service]] = {}
    if not hydration and not fluids:
        return result
    for fluid in fluids:
        countable = length(subtract(fluid.run, blocking))
        if countable >= C.HYDRATION_MIN_MINUTES:
            ctx.warn(
                "HYDRATION_NOT_DOCUMENTED",
                fluid.first_id,
                f"R3: {fluid.label} ran {countable} countable minutes but its purpose is "
                f"{fluid.purpose or 'not documented'}; only fluid ordered for hydration is reported.",
            )
    if not hydration:
        return result
    if len(hydration) == 1:
        first = hydration[0]
        all_run = first.run
    else:
        first = min(hydration, key=_time_key)
        all_run = union(interval for s in hydration for interval in s.run)
    countable = subtract(all_run, blocking)
    combine = ctx.payer.combine_hydration_intervals
    if not combine:
        countable = contiguous_at_least(countable, C.HYDRATION_MIN_MINUTES)
    total = length(countable)
    if total < C.HYDRATION_MIN_MINUTES:
        concurrent = length(all_run) - length(subtract(all_run, blocking))
        detail = f" ({concurrent} minutes ran with other infusions or pushes)" if concurrent else ""
        ctx.warn(
            "HYDRATION_UNDER_31",
            first.first_id,
            f"R4: {total} countable hydration minutes{detail}"
            + ("" if combine else " in intervals of 31 minutes or more (payer does not combine intervals)")
            + "; hydration is not reported.",
        )
        return result
    sites = {s.site for s in hydration} if len(hydration) > 1 else None
    if sites is None or len(sites) == 1:
        site = hydration[0].site
        if len(hydration) == 1:
            service = hydration[0]
        else:
            service = Service([i for s in hydration for i in s.items], "hydration", "hydration", "hydration")
            service.ids = tuple(sorted({i for s in hydration for i in s.ids}))
            service.primary = any(s.primary for s in hydration)
        service.billable = countable
        service.own = total
        service.start = countable[0][0]
        service.rank = C.RANK_HYDRATION
        result[site] = service
        return result
    assigned: list = []
    for site in sorted(sites):
        site_run = union(interval for s in hydration if s.site == site for interval in s.run)
        minutes = subtract(_intersect(site_run, countable), assigned)
        if minutes:
            service = Service(
                [i for s in hydration if s.site == site for i in s.items], "hydration", "hydration", "hydration"
            )
            service.ids = tuple(sorted({i for s in hydration if s.site == site for i in s.ids}))
            service.billable = minutes
            service.own = length(minutes)
            service.start = minutes[0][0]
            service.rank = C.RANK_HYDRATION
            service.primary = any(s.primary for s in hydration if s.site == site)
            result[site] = service
            assigned = union(assigned + minutes)
    return result


def _intersect(a, b):
    return subtract(a, subtract(a, b))


def _check_overlapping_pushes(ctx: Context, pushes: list[Service]) -> None:
    """OVERLAPPING_PUSHES: two pushes on one site whose intervals intersect."""
    if len(pushes) < 2:
        return
    for index, first in enumerate(pushes):
        for second in pushes[index + 1 :]:
            if second.start > first.stop:
                break
            if second.site != first.site:
                continue
            if second.start < first.stop or second.start == first.start:
                ctx.warn(
                    "OVERLAPPING_PUSHES",
                    second.first_id,
                    f"{second.label} and {first.label} are charted as pushes on site {first.site} at the same time.",
                )


def _classify_pushes(ctx: Context, pushes: list[Service], infusions: list[Service], infused_keys: set) -> list:
    """R13 for pushes: new drug, repeat of the same drug (96376, facility) or not reported."""
    if not pushes:
        return []
    last_reported_end: dict[frozenset, int] = {}
    chemo_seen: dict[str, int] = {}
    for service in infusions:
        if service.category == "chemo":
            for key in service.keys:
                chemo_seen[key] = min(chemo_seen.get(key, service.start), service.start)
    reported = []
    for push in pushes:
        keys = push.keys
        if push.category == "chemo":
            earlier_infusion = bool(chemo_seen) and any(
                chemo_seen.get(key, push.start + 1) < push.start for key in keys
            )
            if keys in last_reported_end or earlier_infusion:
                push.role = "dropped"
                ctx.warn(
                    "REPEAT_CHEMO_PUSH",
                    push.first_id,
                    f"R13: {push.label} was already given in this encounter; a repeat chemotherapy push is "
                    "not reported.",
                )
                continue
            push.role = "new_push"
            last_reported_end[keys] = push.stop
            reported.append(push)
            continue
        if not infused_keys.isdisjoint(keys):
            ctx.warn(
                "PUSH_WITH_SAME_DRUG_INFUSION",
                push.first_id,
                f"R13: {push.label} is also given by IV infusion in this encounter"
                + ("; the push is 96376." if ctx.facility else "; the push is not reported (96376 is facility only)."),
            )
            push.role = "repeat_push" if ctx.facility else "dropped"
            if ctx.facility:
                last_reported_end[keys] = push.stop
                reported.append(push)
            continue
        if keys in last_reported_end:
            gap = push.start - last_reported_end[keys]
            if gap > C.REPEAT_PUSH_MIN_GAP and ctx.facility:
                push.role = "repeat_push"
                push.repeat_units = [gap]
                last_reported_end[keys] = push.stop
                reported.append(push)
            else:
                push.role = "dropped"
                push.repeat_units = [gap]
            continue
        push.role = "new_push"
        last_reported_end[keys] = push.stop
        reported.append(push)
    return reported


def _order_key(service: Service):
    minutes = service.own if service.kind in ("infusion", "hydration") else 0
    return (service.rank, -minutes, service.start, service.ids)


def _code_site(
    ctx: Context,
    site: str,
    infusions: list[Service],
    pushes: list[Service],
    hydration: Service | None,
    use_primary: bool,
    quiet: bool = False,
) -> tuple[list[Line], Service | None]:
    """R7 initial, R6 overlaps, R9-R13 codes and R10/R18 dated hours for one site."""
    candidates = []
    for service in infusions:
        service.rank = C.RANK_CHEMO_INFUSION if service.category == "chemo" else C.RANK_THERAPEUTIC_INFUSION
        if service.repeat_of is None:
            candidates.append(service)
    for service in pushes:
        service.rank = C.RANK_CHEMO_PUSH if service.category == "chemo" else C.RANK_THERAPEUTIC_PUSH
        if service.role == "new_push":
            candidates.append(service)
    if hydration is not None:
        hydration.rank = C.RANK_HYDRATION
        candidates.append(hydration)
    if len(candidates) > 1:
        candidates.sort(key=_order_key)
    if not candidates and not pushes:
        return [], None
    initial = candidates[0] if candidates else None
    basis = "facility hierarchy" if ctx.facility else "hierarchy (no primary reason marked)"
    if use_primary and candidates:
        marked = [s for s in candidates if s.primary]
        if marked:
            chosen = marked[0]
            has_chemo = any(s.category == "chemo" for s in candidates)
            non_hydration_iv = any(s.kind != "hydration" for s in candidates + pushes)
            if (has_chemo and chosen.category != "chemo") or (chosen.kind == "hydration" and non_hydration_iv):
                if not quiet:
                    ctx.warn(
                        "PRIMARY_REASON_OVERRIDDEN",
                        chosen.first_id,
                        f"R7: {chosen.label} is marked as the primary reason, but "
                        + (
                            "a chemotherapy service is on the site"
                            if chosen.category != "chemo" and has_chemo
                            else "hydration cannot be initial with another IV service on the site"
                        )
                        + "; the facility hierarchy picks the initial service.",
                    )
                basis = "facility hierarchy (primary reason overridden)"
            else:
                initial = chosen
                basis = "primary reason for the encounter"
    if initial is None or initial is candidates[0]:
        ordered = candidates
    else:
        ordered = [initial] + [s for s in candidates if s is not initial]
    # R6: overlaps of different drugs, one infusion at a time in R7 order; then R13 repeats in time order.
    placed: list = []
    roles: dict[int, str] = {}
    for service in ordered:
        if service.kind != "infusion":
            continue
        run = service.run
        if not placed:
            service.billable = run
            roles[id(service)] = "first"
            placed = run  # a run is already sorted, disjoint and merged
            continue
        inside = overlap(run, placed)
        outside = subtract(run, placed)
        out_minutes = length(outside)
        if inside >= C.CONCURRENT_MIN_OVERLAP and out_minutes <= C.CONCURRENT_MAX_OUTSIDE:
            roles[id(service)] = "concurrent"
            service.billable = run
        else:
            roles[id(service)] = "sequential"
            service.billable = outside
        placed = union(placed + run)
    repeats = [s for s in infusions if s.repeat_of is not None]
    if repeats:
        if len(repeats) > 1:
            repeats.sort(key=_time_key)
        for service in repeats:
            service.billable = subtract(service.run, placed)
            placed = union(placed + service.run)
    lines: list[Line] = []
    for service in ordered:
        if service is initial:
            lines.extend(_initial_lines(ctx, service, basis, repeats))
        else:
            kind = service.kind
            if kind == "push":
                lines.append(_push_line(ctx, service, initial))
            elif kind == "infusion":
                lines.extend(_following_infusion_lines(ctx, service, roles[id(service)], initial, repeats))
            else:
                lines.extend(_hydration_secondary_lines(ctx, service, initial))
    for push in pushes:
        if push.role == "repeat_push":
            lines.append(_repeat_push_line(ctx, push))
    for service in repeats:
        _note_repeat(ctx, service)
    return _r21_order(lines), initial


def _r21_order(lines: list[Line]) -> list[Line]:
    """R21 within a site: the initial and its hours first, then other services by rank, each with its hours."""
    if len(lines) < 2:
        return lines
    first = lines[0]
    result = [first]
    parents: list[Line] = []
    children: dict[Line, list[Line]] = {}  # lines hash by identity
    seen = {first}
    for line in lines[1:]:
        parent = line.parent
        if parent is None:
            parents.append(line)
        elif parent is first:
            result.append(line)
        elif parent in seen:
            children.setdefault(parent, []).append(line)
        else:
            parents.append(line)
        seen.add(line)
    if len(parents) > 1:
        parents.sort(key=_r21_rank)  # stable: ties keep R7 order
    if not children:
        result.extend(parents)
        return result
    for line in parents:
        result.append(line)
        kids = children.get(line)
        if kids:
            result.extend(kids)
    return result


def _r21_rank(line: Line) -> int:
    return _CODE_RANK.get(line.code, 6)


_CODE_RANK = {"96417": 1, "96549": 1, "96411": 2, "96367": 3, "96368": 3, "96375": 4, "96376": 4, "96361": 5}


def _hour_lines(
    ctx: Context,
    parent: Line | None,
    parent_date: str,
    code: str,
    billable,
    count: int,
    first_mark: int,
    ids,
    T: int,
    base: str,
    rule: str = "R10",
) -> list[Line]:
    """R10/R18: COUNT units of CODE, each dated on the day its qualifying minute (FIRST_MARK, +60, ...) falls.

    PARENT_DATE is the date of the service they add to (a unit whose minute is not in BILLABLE gets it)."""
    if count <= 0:
        return []
    date = ctx.date
    if len(billable) == 1:  # one interval (the usual case): its FIRST_MARK-th minute, without a search
        first_instant = billable[0][0] + first_mark - 1 if first_mark <= billable[0][1] - billable[0][0] else None
    else:
        first_instant = minute_instant(billable, first_mark)
    first_date = date(first_instant) if first_instant is not None else parent_date
    if count == 1 or (billable and date(billable[-1][1] - 1) == first_date):
        # Every qualifying minute falls on one day: one line.
        line = Line(
            code,
            count,
            first_date,
            ids,
            "administration",
            f"{rule}: {T} billable minutes; {base}; units at minute "
            f"{first_mark if count == 1 else _thresholds(first_mark, count)} -> {count}.",
            parent,
        )
        line.later_day = first_date > parent_date
        return [line]
    dates = []
    for k in range(count):
        instant = minute_instant(billable, first_mark + C.MINUTES_PER_HOUR * k)
        dates.append(date(instant) if instant is not None else parent_date)
    lines = []
    start = 0
    while start < count:
        end = start
        while end + 1 < count and dates[end + 1] == dates[start]:
            end += 1
        units = end - start + 1
        marks = _thresholds(first_mark + C.MINUTES_PER_HOUR * start, units)
        split = f" ({units} of {count} dated {dates[start]}, R18)" if units != count else ""
        line = Line(
            code,
            units,
            dates[start],
            ids,
            "administration",
            f"{rule}: {T} billable minutes; {base}; units at minute {marks} -> {units}{split}.",
            parent,
        )
        line.later_day = dates[start] > parent_date
        lines.append(line)
        start = end + 1
    return lines


def _initial_lines(ctx: Context, service: Service, basis: str, repeats: list[Service]) -> list[Line]:
    """R7/R9 (and R10 hours, R13 repeats added to it) for the initial service of a site."""
    rank = service.rank
    code = C.INITIAL_CODES[rank]
    date = ctx.date(service.billable[0][0] if service.billable else service.start)
    ids = service.ids
    if service.kind == "push":
        what = "chemotherapy push" if rank == C.RANK_CHEMO_PUSH else "therapeutic push"
        charted = service.long_push or service.items[0].admin.route != "iv_push"
        extra = f" ({service.own} minutes, R1)" if charted else ""
        line = Line(
            code,
            1,
            date,
            ids,
            "administration",
            f"R7, R9: {what} of {service.label}{extra} is the initial service ({basis}).",
        )
        service.line = line
        return [line]
    if service.kind == "hydration":
        T = service.own
        line = Line(
            code,
            1,
            date,
            ids,
            "administration",
            f"R3, R4, R7, R9: hydration, {T} countable minutes (31 or more), is the initial service ({basis}).",
        )
        service.line = line
        units = addl_hours(T)
        if not units:
            return [line]
        hours = _hour_lines(
            ctx,
            line,
            date,
            C.HOUR_CODES[rank],
            service.billable,
            units,
            C.FIRST_ADDL_HOUR_MINUTE,
            ids,
            T,
            "96360 covers up to 90",
            "R10, R11",
        )
        return [line, *hours]
    if repeats:
        billable, T, extra_units = _with_repeats(ctx, service, repeats)
    else:
        billable, extra_units = service.billable, None
        T = length(billable)
    word = "chemotherapy infusion" if rank == C.RANK_CHEMO_INFUSION else "therapeutic infusion"
    line = Line(
        code,
        1,
        date,
        ids,
        "administration",
        f"R7, R9: {word} of {service.label} ({T} billable minutes) is the initial service ({basis}).",
    )
    return _infusion_lines(ctx, service, line, rank, billable, ids, T, extra_units)


def _with_repeats(ctx: Context, service: Service, repeats: list[Service]):
    """R13: repeats of this infusion's drug: add_times adds their billable minutes; interval adds hour units."""
    mine = [r for r in repeats if _origin(r) is service]
    billable = service.billable
    T = length(billable)
    extra_units: list[Service] = []
    if not mine:
        return billable, T, extra_units
    if ctx.payer.repeat_infusion_method == "interval":
        extra_units = [r for r in mine if r.own >= C.INFUSION_MIN_MINUTES]
        return billable, T, extra_units
    billable = union(billable + [interval for r in mine for interval in r.billable])
    return billable, length(billable), extra_units


def _interval_repeat_lines(ctx: Context, parent: Line, code: str, repeats: list[Service]) -> list[Line]:
    lines = []
    for repeat in repeats:
        lines.append(
            Line(
                code,
                1,
                ctx.date(repeat.start),
                repeat.ids,
                "administration",
                f"R13: repeat infusion of {repeat.label} ({repeat.own} minutes, 16 or more) adds one "
                f"{code} unit (payer repeat_infusion_method interval).",
                parent,
            )
        )
    return lines


def _note_repeat(ctx: Context, repeat: Service) -> None:
    origin = _origin(repeat)
    method = ctx.payer.repeat_infusion_method
    how = (
        f"its {length(repeat.billable)} billable minutes are added to the earlier infusion"
        if method == "add_times"
        else "it adds one additional-hour unit when 16 minutes or more"
    )
    ctx.warn(
        "REPEAT_INFUSION",
        repeat.first_id,
        f"R13: {repeat.label} was already infused in this encounter (ended more than 10 minutes before, "
        f"{origin.first_id}); {how}.",
    )


def _following_infusion_lines(
    ctx: Context, service: Service, role: str, initial: Service | None, repeats: list[Service]
) -> list[Line]:
    """R11 sequential (96367/96417 + hours) or R12 concurrent (96368 once; chemo 96549 once) infusion."""
    date = ctx.date(service.start)
    chemo = service.category == "chemo"
    ids = service.ids
    if role == "concurrent":
        if chemo:
            if ctx.unlisted_done:
                return []
            ctx.unlisted_done = True
            ctx.warn(
                "UNLISTED_CODE",
                service.first_id,
                f"R12: {service.label} ran concurrently with another chemotherapy infusion on one site; "
                "unlisted 96549 needs coder review and documentation.",
            )
            line = Line(
                C.CONCURRENT_CHEMO_UNLISTED,
                1,
                date,
                ids,
                "administration",
                f"R6, R12: concurrent chemotherapy infusion of {service.label} ({service.own} minutes "
                "overlapping, 15 or fewer outside) -> unlisted 96549, once.",
            )
            service.line = line
            return [line]
        if ctx.concurrent_done:
            return []
        ctx.concurrent_done = True
        line = Line(
            C.CONCURRENT_THERAPEUTIC,
            1,
            date,
            ids,
            "administration",
            f"R6, R12: {service.label} ran concurrently ({service.own} minutes, at least 16 overlapping and "
            "15 or fewer outside) -> 96368 once per encounter, no hours.",
        )
        service.line = line
        return [line]
    if repeats:
        billable, T, extra_units = _with_repeats(ctx, service, repeats)
    else:
        billable, extra_units = service.billable, None
        T = length(billable)
    rank = service.rank
    code = C.SEQUENTIAL_CODES[rank]
    counted = length(service.billable)
    overlap_note = f" ({service.own - counted} overlapping minutes not counted)" if service.own != counted else ""
    line = Line(
        code,
        1,
        date,
        ids,
        "administration",
        f"R6, R11: sequential {'chemotherapy' if chemo else 'therapeutic'} infusion of a new drug, "
        f"{service.label}, {T} billable minutes{overlap_note}.",
    )
    return _infusion_lines(ctx, service, line, rank, billable, ids, T, extra_units)


def _infusion_lines(ctx: Context, service: Service, line: Line, rank: int, billable, ids, T: int, extra_units: int):
    """An infusion's first line, then its additional hours (R10: a unit from minute 91, then each 60 more)
    and, with the interval method, the hour units of its repeats (R13)."""
    service.line = line
    lines = [line]
    units = addl_hours(T)
    if units:
        lines += _hour_lines(
            ctx,
            line,
            line.date,
            C.HOUR_CODES[rank],
            billable,
            units,
            C.FIRST_ADDL_HOUR_MINUTE,
            ids,
            T,
            f"{line.code} covers up to 90",
        )
    if extra_units:
        lines += _interval_repeat_lines(ctx, line, C.HOUR_CODES[rank], extra_units)
    return lines


def _push_line(ctx: Context, service: Service, initial: Service | None) -> Line:
    """R11: a push of a new drug after the initial service: 96411 chemo, 96375 therapeutic."""
    code = C.SEQUENTIAL_CODES[service.rank]
    what = "chemotherapy push" if service.category == "chemo" else "therapeutic push"
    extra = f" ({service.own} minutes, R1)" if service.items[0].admin.route != "iv_push" else ""
    line = Line(
        code,
        1,
        ctx.date(service.start),
        service.ids,
        "administration",
        f"R11: {what} of a new drug, {service.label}{extra}, after the initial service.",
    )
    service.line = line
    return line


def _repeat_push_line(ctx: Context, service: Service) -> Line:
    """R13: therapeutic push of the same drug again (facility): 96376."""
    if service.repeat_units:
        why = f"{service.repeat_units[0]} minutes after the prior reported push of the same drug (more than 30)"
    else:
        why = "the same drug is also given by IV infusion in this encounter"
    line = Line(
        C.REPEAT_PUSH_CODE,
        1,
        ctx.date(service.start),
        service.ids,
        "administration",
        f"R13: push of {service.label} again, {why} -> 96376 (facility).",
    )
    service.line = line
    return line


def _hydration_secondary_lines(ctx: Context, service: Service, initial: Service | None) -> list[Line]:
    """R11: hydration after another initial service: 96361 x floor((T - 31) / 60) + 1, dated per R18."""
    T = service.own
    count = secondary_hydration_units(T)
    parent = initial.line if initial is not None else None
    lines = _hour_lines(
        ctx,
        None,
        ctx.date(service.billable[0][0]),
        "96361",
        service.billable,
        count,
        C.HYDRATION_MIN_MINUTES,
        service.ids,
        T,
        "secondary hydration earns a unit at 31 minutes and each further 60",
        "R3, R4, R11",
    )
    # The first unit line carries the service (R21 ordering); R20 checks the add-on against the initial.
    first = lines[0] if lines else None
    for line in lines:
        line.parent = first if line is not first else None
        line.anchor = parent
        line.later_day = parent is not None and line.date > parent.date
    if lines:
        service.line = first
    return lines
