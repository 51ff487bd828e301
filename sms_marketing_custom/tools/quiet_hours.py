"""Sending windows ("quiet hours") in the recipient's local time (pure Python, no odoo import).

A window is ``(start, end, no_sunday)``: hours as floats (9.5 is 09:30),
open when ``start <= local time < end`` and, with ``no_sunday``, not on a
Sunday. A number may span several time zones (libphonenumber gives one or
more per prefix): the window must then be open in all of them, the most
restrictive reading.

The engine never asks this per recipient: it groups recipients by their zone
key (``zone_key``: the sorted zones joined by ","), and calls
``next_opening`` once per distinct key (a few hundred at most).
"""

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from phonenumbers.tzdata import TIMEZONE_DATA

# Days looked ahead for an opening: a window open at least one day a week opens within 8 days.
HORIZON_DAYS = 8


def zone_key(zones):
    """The key of a set of zones: sorted, comma-joined; '' for none."""
    return ",".join(sorted(set(zones)))


@lru_cache(maxsize=1)
def prefix_table():
    """[(digits prefix, zone key)] of libphonenumber's time-zone table (longest prefix wins)."""
    return [(prefix, zone_key(zones)) for prefix, zones in sorted(TIMEZONE_DATA.items())]


def prefix_lengths():
    return sorted({len(prefix) for prefix, _key in prefix_table()})


@lru_cache(maxsize=1024)
def _zone(name):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zones_of_key(key, fallback="UTC"):
    """ZoneInfo objects of a key; unknown names are dropped, none left gives ``fallback``."""
    zones = [zone for zone in (_zone(name) for name in (key or "").split(",") if name) if zone]
    return zones or [_zone(fallback) or timezone.utc]


def is_open(zone, moment, start, end, no_sunday):
    """True when the window is open at ``moment`` (aware) in ``zone``."""
    local = moment.astimezone(zone)
    if no_sunday and local.weekday() == 6:
        return False
    hour = local.hour + local.minute / 60 + local.second / 3600
    return start <= hour < end


def next_opening(key, now, start, end, no_sunday, fallback="UTC"):
    """First UTC instant (naive) >= ``now`` (naive UTC) when the window is open in every zone of ``key``.

    ``now`` itself when open now; None when it never opens within HORIZON_DAYS
    (e.g. zones too far apart for their windows to overlap).
    """
    zones = zones_of_key(key, fallback)
    now_aware = now.replace(tzinfo=timezone.utc)
    candidates = {now_aware}
    for zone in zones:
        local_day = now_aware.astimezone(zone).date()
        hours, minutes = int(start), round((start - int(start)) * 60)
        for offset in range(-1, HORIZON_DAYS + 1):
            day = local_day + timedelta(days=offset)
            # a wall-clock time of a DST gap is read as zoneinfo reads it (fold=0)
            opening = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone)
            opening = opening.astimezone(timezone.utc)
            if opening >= now_aware:
                candidates.add(opening)
    for candidate in sorted(candidates):
        if all(is_open(zone, candidate, start, end, no_sunday) for zone in zones):
            return candidate.replace(tzinfo=None)
    return None
