"""Timeline arithmetic on whole minutes: sorted, disjoint, half-open intervals [start, stop) of epoch minutes.

No per-minute loops (performance target of issue 3); every function is linear in the number of intervals.
Used by R1-R6 (own minutes, overlaps, countable hydration minutes) and R18 (the minute a unit qualifies).
"""

from __future__ import annotations

Intervals = list[tuple[int, int]]


def union(intervals) -> Intervals:
    """Merge any intervals into sorted disjoint ones (touching intervals merge)."""
    items = [i for i in intervals if i[1] > i[0]]
    if not items:
        return []
    items.sort()
    merged = [items[0]]
    for start, stop in items[1:]:
        last_start, last_stop = merged[-1]
        if start <= last_stop:
            if stop > last_stop:
                merged[-1] = (last_start, stop)
        else:
            merged.append((start, stop))
    return merged


def length(intervals: Intervals) -> int:
    if len(intervals) == 1:
        start, stop = intervals[0]
        return stop - start
    total = 0
    for start, stop in intervals:
        total += stop - start
    return total


def subtract(a: Intervals, b: Intervals) -> Intervals:
    """a minus b (both sorted and disjoint)."""
    if not b or not a:
        return list(a)
    result = []
    j = 0
    nb = len(b)
    for start, stop in a:
        current = start
        while j < nb and b[j][1] <= current:
            j += 1
        k = j
        while k < nb and b[k][0] < stop:
            b_start, b_stop = b[k]
            if b_start > current:
                result.append((current, b_start))
            if b_stop > current:
                current = b_stop
            if current >= stop:
                break
            k += 1
        if current < stop:
            result.append((current, stop))
    return result


def overlap(a: Intervals, b: Intervals) -> int:
    """Minutes in both a and b."""
    if not a or not b:
        return 0
    total = 0
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i][0], b[j][0])
        stop = min(a[i][1], b[j][1])
        if stop > start:
            total += stop - start
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def running(start: int, stop: int, pauses) -> Intervals:
    """[start, stop) minus the pauses: the minutes an administration actually ran (own minutes)."""
    if not pauses:
        return [(start, stop)] if stop > start else []
    return subtract([(start, stop)] if stop > start else [], union(pauses))


def minute_instant(intervals: Intervals, n: int) -> int | None:
    """The epoch minute at which the n-th (1-based) minute of the intervals begins, or None."""
    remaining = n - 1
    for start, stop in intervals:
        span = stop - start
        if remaining < span:
            return start + remaining
        remaining -= span
    return None


def contiguous_at_least(intervals: Intervals, minimum: int) -> Intervals:
    """Only the maximal intervals that are each at least MINIMUM minutes long."""
    return [(start, stop) for start, stop in intervals if stop - start >= minimum]
