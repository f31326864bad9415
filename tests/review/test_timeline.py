"""The pure timeline renderer: lanes, bars with pauses cut out, ticks, hydration, midnight, the table."""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import pytest

from review.timeline import TimelineItem, chart_range, render_svg, table_rows

NY = ZoneInfo("America/New_York")
SVG = "{http://www.w3.org/2000/svg}"


def t(hhmm: str, day: int = 4) -> datetime.datetime:
    h, m = hhmm.split(":")
    return datetime.datetime(2025, 3, day, int(h), int(m), tzinfo=NY)


def standard_day() -> list[TimelineItem]:
    return [
        TimelineItem("A1", "rituximab", "iv_infusion", "A", t("10:00"), t("14:10"), pauses=((t("11:00"), t("11:20")),)),
        TimelineItem("A2", "diphenhydramine", "iv_push", "A", t("09:45")),
        TimelineItem("A3", "sodium chloride 0.9%", "iv_infusion", "A", t("10:00"), t("14:10"), hydration=True),
        TimelineItem("A4", "ondansetron", "iv_infusion", "B", t("12:00"), t("12:30")),
    ]


def groups(svg: str, css: str) -> list[ET.Element]:
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    return [g for g in root.iter(f"{SVG}g") if css in (g.get("class") or "").split()]


def test_svg_is_well_formed_with_one_lane_per_site():
    svg = render_svg(standard_day(), NY)
    lanes = groups(svg, "tl-lane")
    assert [lane.get("aria-label") for lane in lanes] == ["Site A", "Site B"]


def test_pause_is_cut_out_of_the_bar():
    svg = render_svg(standard_day(), NY)
    infusions = groups(svg, "tl-infusion")
    rituximab = next(g for g in infusions if "rituximab" in g.find(f"{SVG}title").text)
    rects = rituximab.findall(f"{SVG}rect")
    assert len(rects) == 2  # 10:00-11:00 and 11:20-14:10
    first_end = float(rects[0].get("x")) + float(rects[0].get("width"))
    assert first_end < float(rects[1].get("x"))
    assert "paused 11:00-11:20" in rituximab.find(f"{SVG}title").text
    assert "(230 min)" in rituximab.find(f"{SVG}title").text


def test_push_is_a_tick_and_hydration_is_shaded_differently():
    svg = render_svg(standard_day(), NY)
    pushes = groups(svg, "tl-push")
    assert len(pushes) == 1 and pushes[0].find(f"{SVG}line") is not None
    hydration = groups(svg, "tl-hydration")
    assert len(hydration) == 1
    assert hydration[0].find(f"{SVG}rect").get("fill") == "url(#tl-hydration)"
    infusion_fill = groups(svg, "tl-infusion")[0].find(f"{SVG}rect").get("fill")
    assert infusion_fill != "url(#tl-hydration)"


def test_overlapping_bars_on_one_site_do_not_share_a_row():
    svg = render_svg(standard_day(), NY)
    ys = {
        g.find(f"{SVG}title").text.split(",")[0]: g.find(f"{SVG}rect").get("y")
        for g in groups(svg, "tl-infusion") + groups(svg, "tl-hydration")
    }
    assert ys["rituximab"] != ys["sodium chloride 0.9%"]


def test_midnight_is_marked_when_crossed():
    items = [TimelineItem("A1", "saline", "iv_infusion", "A", t("22:00"), t("06:30", day=5), hydration=True)]
    svg = render_svg(items, NY)
    assert "tl-midnight" in svg and "midnight 2025-03-05" in svg
    assert "tl-midnight" not in render_svg(standard_day(), NY)
    row = table_rows(items, NY)[0]
    assert row["stop"] == "06:30 (2025-03-05)" and row["minutes"] == "510"


def test_open_infusion_is_drawn_dashed_and_listed_as_missing():
    items = [TimelineItem("A1", "rituximab", "iv_infusion", "A", t("10:00"))]
    svg = render_svg(items, NY)
    open_group = groups(svg, "tl-open")
    assert len(open_group) == 1 and open_group[0].find(f"{SVG}rect").get("stroke-dasharray")
    assert "no stop time" in svg
    assert table_rows(items, NY)[0]["stop"] == "missing"


def test_text_is_escaped():
    items = [TimelineItem("A1", "<script>alert(1)</script>", "iv_push", "<b>", t("10:00"))]
    svg = render_svg(items, NY)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # noqa: S314 - well-formed check of our own output


def test_naive_datetimes_are_refused():
    naive = datetime.datetime(2025, 3, 4, 10, 0)
    with pytest.raises(ValueError):
        render_svg([TimelineItem("A1", "x", "iv_push", "A", naive)], NY)


def test_empty_and_range():
    assert "No administrations documented" in render_svg([], NY)
    lo, hi = chart_range(standard_day(), NY)
    assert (lo.hour, hi.hour) == (9, 15)


def test_table_rows_in_site_and_time_order():
    rows = table_rows(standard_day(), "America/New_York")
    assert [r["drug"] for r in rows] == ["diphenhydramine", "rituximab", "sodium chloride 0.9%", "ondansetron"]
    assert rows[0]["kind"] == "push / injection" and rows[0]["stop"] == ""
    assert rows[2]["kind"] == "hydration" and rows[1]["pauses"] == "11:00-11:20"


def test_hour_labels_are_local_time():
    svg = render_svg(standard_day(), NY)
    labels = re.findall(r">(\d\d:\d\d)</text>", svg)
    assert "10:00" in labels and "14:00" in labels
