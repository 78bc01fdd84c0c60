"""ISO 8601 durations as Key Vault's rotation policies carry them (`P90D`, `P1Y6M`, `PT12H`).

Key Vault's 7.5 definition gives `timeAfterCreate`, `timeBeforeExpiry` and `expiryTime` as "ISO
8601" durations; years and months have no fixed length, so they are measured, as a calendar
would, from a fixed day.
"""

from __future__ import annotations

import calendar
import datetime
import re

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_MEASURED_FROM = datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC)


def _plus_months(start: datetime.datetime, months: int) -> datetime.datetime:
    year, month = divmod(start.month - 1 + months, 12)
    target_year, target_month = start.year + year, month + 1
    day = min(start.day, calendar.monthrange(target_year, target_month)[1])
    return start.replace(year=target_year, month=target_month, day=day)


def parse_duration(text: str) -> datetime.timedelta:
    """The length of an ISO 8601 duration; ValueError when it is not one, or not positive."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. P90D, P1Y, P1Y6M)")
    parts = {name: float(value) if value else 0.0 for name, value in found.groupdict().items()}
    months = int(parts["years"]) * 12 + int(parts["months"])
    end = _plus_months(_MEASURED_FROM, months) + datetime.timedelta(
        weeks=parts["weeks"], days=parts["days"], hours=parts["hours"], minutes=parts["minutes"],
        seconds=parts["seconds"])
    length = end - _MEASURED_FROM
    if length <= datetime.timedelta(0):
        raise ValueError(f"{text!r} is not a positive duration")
    return length
