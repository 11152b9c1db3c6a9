"""Delivery promises: cut-off, transit business days and a holiday calendar give a delivery date."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rating import errors

WEEKDAYS: dict[str, int] = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_SATURDAY = 5
_ONE_DAY = timedelta(days=1)
_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Calendar:
    """The days a carrier picks up and delivers."""

    business_days: frozenset[int]
    holidays: frozenset[date] = frozenset()

    def is_business_day(self, day: date) -> bool:
        """Return whether the carrier works on this day."""
        return day.weekday() in self.business_days and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """Return the first business day strictly after ``day``."""
        day += _ONE_DAY
        while not self.is_business_day(day):
            day += _ONE_DAY
        return day

    def add_business_days(self, day: date, n: int, *, saturday_delivery: bool = False) -> date:
        """Return the day ``n`` business days after ``day``; the last may be a Saturday if asked."""
        for _ in range(n - 1):
            day = self.next_business_day(day)
        if n > 0:
            day += _ONE_DAY
            while not (
                self.is_business_day(day)
                or (saturday_delivery and day.weekday() == _SATURDAY and day not in self.holidays)
            ):
                day += _ONE_DAY
        return day


@dataclass(frozen=True, slots=True)
class Schedule:
    """A service's cut-off, time zone, calendar and transit days by zone."""

    cutoff: time
    tz: ZoneInfo
    calendar: Calendar
    days_by_zone: Mapping[str, int]
    # Many quotes share a ship day, so the date arithmetic is memoised per card.
    _memo: dict[tuple[date, bool, int, bool], date] = field(default_factory=dict, compare=False, repr=False)

    def pickup_date(self, ship_at: datetime) -> date:
        """Return the day the parcel leaves: today before the cut-off on a business day, else the next."""
        if ship_at.tzinfo is None or ship_at.utcoffset() is None:
            raise errors.RatingError("ship_at must be timezone-aware")
        local = ship_at.astimezone(self.tz)
        day = local.date()
        if local.time() < self.cutoff and self.calendar.is_business_day(day):
            return day
        return self.calendar.next_business_day(day)

    def estimate(self, ship_at: datetime, zone: str, *, saturday_delivery: bool = False) -> date:
        """Return the estimated delivery date for a shipment handed over at ``ship_at``."""
        if ship_at.tzinfo is None or ship_at.utcoffset() is None:
            raise errors.RatingError("ship_at must be timezone-aware")
        local = ship_at.astimezone(self.tz)
        days = self.days_by_zone[zone]
        key = (local.date(), local.time() < self.cutoff, days, saturday_delivery)
        found = self._memo.get(key)
        if found is None:
            pickup = self.pickup_date(local)
            found = self.calendar.add_business_days(pickup, days, saturday_delivery=saturday_delivery)
            if len(self._memo) >= _CACHE_LIMIT:
                self._memo.clear()
            self._memo[key] = found
        return found
