"""An appointment time said the way a receptionist would: "tomorrow at 9 a.m.",
"on Friday at 2:30 p.m.", "on Tuesday the 3rd of June at 11 a.m."."""

from __future__ import annotations

from datetime import datetime

_DAYS_SAID_BY_NAME = 6
# Spelled out here, not taken from the locale: the voice speaks English whatever the server.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def spoken_datetime(when: datetime, now: datetime) -> str:
    """An appointment time as people say it, in ``when``'s own time zone.

    "today at 10:30", "tomorrow at 2 pm", "on Thursday at midday" within six days, and
    "on Thursday the 3rd of December at 10:30" beyond (with the year when it is not this
    year's and more than half a year away). Both datetimes must be time-zone aware.
    """
    if when.tzinfo is None or now.tzinfo is None:
        raise ValueError("spoken_datetime needs time-zone aware datetimes")
    local_now = now.astimezone(when.tzinfo)
    days = (when.date() - local_now.date()).days
    at = f"at {_spoken_time(when.hour, when.minute)}"
    if days == 0:
        return f"today {at}"
    if days == 1:
        return f"tomorrow {at}"
    weekday = _WEEKDAYS[when.weekday()]
    if 1 < days <= _DAYS_SAID_BY_NAME:
        return f"on {weekday} {at}"
    month = _MONTHS[when.month - 1]
    date = f"the {_ordinal(when.day)} of {month}"
    if when.year != local_now.year and abs(days) > 183:
        date += f" {when.year}"
    return f"on {weekday} {date} {at}"


def _spoken_time(hour: int, minute: int) -> str:
    if minute == 0:
        if hour == 12:
            return "midday"
        if hour == 0:
            return "midnight"
        return f"{hour % 12} {'am' if hour < 12 else 'pm'}"
    clock = f"{(hour % 12) or 12}:{minute:02d}"
    if 8 <= hour < 12:
        return clock  # a morning appointment: "at 10:30" is how it is said
    return f"{clock} {'am' if hour < 12 else 'pm'}"


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"
