"""The platform clock: deadlines at the end of the Paris day, across summer-time changes,
and the API's UTC "Z" form."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib import clock

PARIS = "Europe/Paris"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("start", "days", "end"),
    [
        # winter (UTC+1): 23:59:59 in Paris is 22:59:59 UTC
        ("2026-01-10T10:00:00Z", 30, "2026-02-09T22:59:59Z"),
        # summer (UTC+2)
        ("2026-07-01T10:00:00Z", 30, "2026-07-31T21:59:59Z"),
        # summer time ends on Sunday 2026-10-25: approved in summer, ends in winter
        ("2026-10-20T10:00:00Z", 10, "2026-10-30T22:59:59Z"),
        # ... and the deadline on the day of the change itself, after 03:00 became 02:00
        ("2026-10-15T10:00:00Z", 10, "2026-10-25T22:59:59Z"),
        # summer time starts on Sunday 2027-03-28: approved in winter, ends in summer
        ("2027-03-20T10:00:00Z", 10, "2027-03-30T21:59:59Z"),
        ("2027-03-18T10:00:00Z", 10, "2027-03-28T21:59:59Z"),
        # the local date is what counts: 00:30 in Paris on the 16th is the 15th in UTC
        ("2026-01-15T23:30:00Z", 10, "2026-01-26T22:59:59Z"),
        # the same in summer: 00:30 in Paris on the 16th
        ("2026-06-15T22:30:00Z", 1, "2026-06-17T21:59:59Z"),
        # zero days: the end of the same local day
        ("2026-06-15T08:00:00Z", 0, "2026-06-15T21:59:59Z"),
        # a leap day on the way
        ("2028-02-20T12:00:00Z", 10, "2028-03-01T22:59:59Z"),
    ],
)
def test_end_of_local_day(start, days, end):
    assert clock.end_of_local_day(utc(start), days, PARIS) == utc(end)


def test_the_deadline_is_always_the_last_second_of_a_paris_day():
    # every approval moment of a year, hour by hour: the local time is 23:59:59 and the
    # local date is `days` after the approval's local date, whatever the offset that day
    from zoneinfo import ZoneInfo

    paris = ZoneInfo(PARIS)
    moment = utc("2026-01-01T00:00:00Z")
    while moment.year == 2026:
        end = clock.end_of_local_day(moment, 30, PARIS)
        local_end = end.astimezone(paris)
        assert (local_end.hour, local_end.minute, local_end.second) == (23, 59, 59)
        assert local_end.date() - moment.astimezone(paris).date() == timedelta(days=30)
        assert end.tzinfo is not None and end.utcoffset() == timedelta(0)
        moment += timedelta(hours=5)


def test_another_territory_uses_its_own_zone():
    # Réunion (UTC+4, no summer time)
    assert clock.end_of_local_day(utc("2026-07-01T10:00:00Z"), 30, "Indian/Reunion") == utc("2026-07-31T19:59:59Z")


def test_iso_is_utc_with_z_to_the_second():
    paris_summer = timezone(timedelta(hours=2))
    assert clock.iso(datetime(2026, 7, 14, 12, 30, 5, tzinfo=paris_summer)) == "2026-07-14T10:30:05Z"
    assert clock.iso(datetime(2026, 7, 14, 10, 30, 5, 999_999, tzinfo=UTC)) == "2026-07-14T10:30:05Z"


def test_parse_reads_z_and_offsets_back_to_utc():
    assert clock.parse("2026-10-30T22:59:59Z") == datetime(2026, 10, 30, 22, 59, 59, tzinfo=UTC)
    assert clock.parse("2026-10-30T23:59:59+01:00") == datetime(2026, 10, 30, 22, 59, 59, tzinfo=UTC)
    assert clock.parse("2026-10-30T22:59:59Z").tzinfo == UTC


def test_iso_and_parse_round_trip_and_sort_as_text():
    moments = [utc("2026-03-29T00:59:59Z"), utc("2026-03-29T01:00:00Z"), utc("2027-01-01T00:00:00Z")]
    texts = [clock.iso(m) for m in moments]
    assert [clock.parse(t) for t in texts] == moments
    assert sorted(texts) == texts


def test_now_is_utc_to_the_second():
    now = clock.now()
    assert now.utcoffset() == timedelta(0)
    assert now.microsecond == 0
