"""Cron schedules in a time zone (croniter): the next time after a moment, and the times a pause missed."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter


def next_time(cron: str, tz: str, after: datetime) -> datetime:
    """The first time of the schedule strictly after ``after`` (aware), in the schedule's zone."""
    return croniter(cron, after.astimezone(ZoneInfo(tz))).get_next(datetime)


def times_between(cron: str, tz: str, start: datetime, end: datetime, limit: int = 10_000) -> list[datetime]:
    """The schedule's times in (start, end], at most ``limit`` (the last ones are what matter)."""
    found: list[datetime] = []
    moment = start
    while len(found) < limit:
        moment = next_time(cron, tz, moment)
        if moment > end:
            break
        found.append(moment)
    return found
