"""The platform's clock: UTC, to the second. Tests and `make finalise NOW=…` replace `now`."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """API and storage form: ISO 8601 in UTC with Z; sorts as text in time order.
    (Not strftime: its %Y does not pad years before 1000, which parse then refuses.)"""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def end_of_local_day(start: datetime, days: int, zone: str) -> datetime:
    """The last second of the local day `days` days after `start`, in UTC: a campaign
    approved on the 1st for 30 days runs until the 31st at 23:59:59, Paris time."""
    tz = ZoneInfo(zone)
    last_day = start.astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
