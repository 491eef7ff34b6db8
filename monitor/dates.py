"""Dates as outlets write them, turned into ISO 8601 with the UTC offset kept."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from monitor.errors import MonitorError

ALMATY = ZoneInfo("Asia/Almaty")

_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})?\s*([+-]\d{2}:?\d{2}|Z)?$")
_DOTTED = re.compile(
    r"(\d{1,2}):(\d{2})\s+(\d{1,2})\.(\d{1,2})\.(\d{4})|(\d{1,2})\.(\d{1,2})\.(\d{4})\s*,?\s*(\d{1,2}):(\d{2})"
)


def _tz(offset: str) -> timezone:
    if offset == "Z":
        return UTC
    sign = -1 if offset[0] == "-" else 1
    digits = offset[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])))


UTC = UTC


def parse_datetime(value: str | int | float | None, tz: ZoneInfo = ALMATY) -> datetime | None:
    """Parse an outlet's date in any of the forms seen (ISO, compact, RFC 822, Unix, dd.mm.yyyy).

    Naive values are taken as local time in `tz` (Kazakhstan by default). Returns an aware
    datetime, or None when the value is not a date.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        return datetime.fromtimestamp(seconds, tz)
    text = value.strip()
    match = _COMPACT.match(text)
    if match:
        y, mo, d, h, mi, s, off = match.groups()
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
        return dt.replace(tzinfo=_tz(off)) if off else dt.replace(tzinfo=tz)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        dt = None
    if dt is None:
        try:
            dt = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            dt = None
    if dt is None:
        match = _DOTTED.search(text)
        if not match:
            return None
        g = match.groups()
        if g[0] is not None:
            h, mi, d, mo, y = g[0:5]
        else:
            d, mo, y, h, mi = g[5:10]
        try:
            dt = datetime(int(y), int(mo), int(d), int(h), int(mi))
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with the offset, to the second (`2022-01-08T10:30:00+06:00`)."""
    if dt is None:
        return None
    return dt.replace(microsecond=0).isoformat()


def normalize(value: str | int | float | None, tz: ZoneInfo = ALMATY) -> str | None:
    """parse_datetime() then iso()."""
    return iso(parse_datetime(value, tz))


def parse_since(value: str | None, default_days: int) -> datetime:
    """The `since` spider argument: YYYY-MM-DD (or a full ISO time); default: `default_days` ago."""
    if value is None or value == "":
        start = datetime.now(ALMATY) - timedelta(days=default_days)
        return start.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        day = date.fromisoformat(value)
        return datetime(day.year, day.month, day.day, tzinfo=ALMATY)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise MonitorError(
            f"since={value!r} is not a date: use YYYY-MM-DD, for example since=2022-01-01"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=ALMATY)


def display_zone(name: str | None = None) -> ZoneInfo:
    """The time zone times are shown in (MONITOR_TIMEZONE, default Asia/Almaty)."""
    from monitor import settings

    name = name or settings.MONITOR_TIMEZONE
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        raise MonitorError(
            f"MONITOR_TIMEZONE={name!r} is not a time zone (use a name such as Asia/Almaty)"
        ) from None


def shown(value: str | datetime | None, zone: ZoneInfo | None = None) -> datetime | None:
    """An ISO 8601 time (or datetime) in the display zone; a time without an offset is UTC.

    None for what is not a time, and for a bare date (it has no time to convert)."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) <= 10:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone or display_zone())
