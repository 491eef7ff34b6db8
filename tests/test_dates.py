"""Dates in every form the outlets use become ISO 8601 with the offset."""

import pytest

from monitor import dates
from monitor.errors import MonitorError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-01-10T14:30:00+06:00", "2022-01-10T14:30:00+06:00"),
        ("20220108T1030+0600", "2022-01-08T10:30:00+06:00"),
        ("20240607T1522+0500", "2024-06-07T15:22:00+05:00"),
        ("Mon, 10 Jan 2022 14:30:00 +0600", "2022-01-10T14:30:00+06:00"),
        ("2022-01-10T08:30:00Z", "2022-01-10T08:30:00+00:00"),
        ("15:35 07.06.2024", "2024-06-07T15:35:00+05:00"),
        ("(обновлено: 15:35 07.06.2024)", "2024-06-07T15:35:00+05:00"),
        ("(жаңартылды: 09:05 08.01.2022)", "2022-01-08T09:05:00+06:00"),
        ("1641618600", "2022-01-08T11:10:00+06:00"),
        ("2022-01-10", "2022-01-10T00:00:00+06:00"),
    ],
)
def test_outlet_dates_are_normalised_with_offset(value, expected):
    assert dates.normalize(value) == expected


@pytest.mark.parametrize("value", ["", None, "вчера", "not a date"])
def test_non_dates_are_none(value):
    assert dates.normalize(value) is None


def test_since_parses_a_day_in_kazakhstan_time():
    assert dates.iso(dates.parse_since("2022-01-01", 3)) == "2022-01-01T00:00:00+06:00"


def test_since_defaults_to_a_few_days_back():
    since = dates.parse_since(None, 3)
    now = dates.parse_datetime("2100-01-01")
    assert since < now


@pytest.mark.parametrize("value", ["yesterday", "2022-13-01", "01.01.2022"])
def test_bad_since_is_a_clear_error(value):
    with pytest.raises(MonitorError, match="YYYY-MM-DD"):
        dates.parse_since(value, 3)
