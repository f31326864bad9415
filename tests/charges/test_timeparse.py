import datetime
from zoneinfo import ZoneInfo

import pytest

from charges import timeparse

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("14:30", (14, 30)),
        ("1430", (14, 30)),
        ("2:30 pm", (14, 30)),
        ("2:30PM", (14, 30)),
        ("2 pm", (14, 0)),
        ("12 am", (0, 0)),
        ("12:15 pm", (12, 15)),
        ("930", (9, 30)),
        ("9", (9, 0)),
        ("14.30", (14, 30)),
        ("0:05", (0, 5)),
    ],
)
def test_parse_clock_accepts_what_nurses_type(text, expected):
    assert timeparse.parse_clock(text) == datetime.time(*expected)


@pytest.mark.parametrize("text", ["", "25:00", "13 pm", "1460", "noon", "14:3", "0 am"])
def test_parse_clock_refuses_with_a_hint(text):
    with pytest.raises(timeparse.TimeParseError) as exc:
        timeparse.parse_clock(text)
    assert "14:30" in str(exc.value)


def test_ambiguous_time_on_fall_back_night_asks_which_one():
    with pytest.raises(timeparse.AmbiguousTime) as exc:
        timeparse.local_datetime(datetime.date(2025, 11, 2), datetime.time(1, 30), NY)
    first, second = exc.value.choices
    assert second.astimezone(datetime.UTC) - first.astimezone(datetime.UTC) == datetime.timedelta(hours=1)
    assert [timeparse.describe_choice(c) for c in exc.value.choices] == ["01:30 EDT", "01:30 EST"]
    chosen = timeparse.local_datetime(datetime.date(2025, 11, 2), datetime.time(1, 30), NY, fold=1)
    assert chosen.utcoffset() == datetime.timedelta(hours=-5)


def test_nonexistent_time_on_spring_forward_is_refused():
    with pytest.raises(timeparse.NonexistentTime):
        timeparse.local_datetime(datetime.date(2025, 3, 9), datetime.time(2, 30), NY)


def test_ordinary_time_is_aware_in_the_center_zone():
    value = timeparse.local_datetime(datetime.date(2025, 3, 4), datetime.time(10, 0), NY)
    assert value.utcoffset() == datetime.timedelta(hours=-5)


def test_stop_before_start_offers_next_day_never_assumes():
    start = timeparse.local_datetime(datetime.date(2025, 3, 4), datetime.time(22, 0), NY)
    stop = timeparse.local_datetime(datetime.date(2025, 3, 4), datetime.time(1, 30), NY)
    offer = timeparse.next_day_suggestion(start, stop)
    assert offer is not None
    assert offer.message == "01:30 tomorrow?"
    assert offer.stop.date() == datetime.date(2025, 3, 5)
    assert timeparse.next_day_suggestion(start, offer.stop) is None
