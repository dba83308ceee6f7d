"""A batch job's partition set, as the core knows it (no Dagster): kind, bounds and its keys.

``batch_job.partitions`` names how keys look (``daily``: ISO dates ``YYYY-MM-DD``; ``hourly``,
``monthly``, ``static``, ...) and ``batch_job.partition_start`` / ``partition_end`` bound the set;
a NULL bound is open on that side. The application registers every key of a job in its
partitions definition's order (``batch_job_partition``, ``BatchJobCatalog.register``); those
listed keys are the set, and a range runs from one listed key to another in that order, never by
date arithmetic (an hourly day with a repeated hour has 25 keys, one that skips an hour 23).
A job with no listed keys (a database registered before keys were) keeps the daily rules: ISO
dates between the bounds.
"""

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Mapping


@dataclasses.dataclass(frozen=True)
class PartitionSet:
    """The partition set of a job.

    Attributes:
        kind: ``"daily"``, ``"hourly"``, ``"monthly"``, ``"static"``, ...; without ``listed``
            only ``"daily"`` (ISO date keys) can be checked beyond the bounds or expanded.
        first, last: inclusive bounds in key order, or None for an open side. Without
            ``listed`` they compare as strings (date order for ISO dates).
        listed: every key of the set in the job's order, or None when the job registered none.
    """

    kind: str
    first: str | None = None
    last: str | None = None
    listed: tuple[str, ...] | None = None

    @functools.cached_property
    def _positions(self) -> Mapping[str, int] | None:
        """Per listed key within the bounds, its place in the job's order; None without keys."""
        if self.listed is None:
            return None
        keys = self.listed
        low = keys.index(self.first) if self.first in keys else 0
        high = keys.index(self.last) + 1 if self.last in keys else len(keys)
        return {k: i for i, k in enumerate(keys[low:high], start=low)}

    def contains(self, key: str) -> bool:
        """True when ``key`` is a partition of this set."""
        positions = self._positions
        if positions is not None:
            return key in positions
        if self.kind == "daily" and not _is_iso_date(key):
            return False
        return (self.first is None or key >= self.first) and (self.last is None or key <= self.last)

    def outside(self, keys: Iterable[str]) -> list[str]:
        """The keys of ``keys`` that are not in the set, in the order given (no duplicates)."""
        return list(dict.fromkeys(k for k in keys if not self.contains(k)))

    def keys(self) -> list[str] | None:
        """Every key of the set in order: the listed keys within the bounds, else the days of a
        bounded daily set; None when the set cannot be listed here (no listed keys and another
        kind, or an open bound).

        Raises:
            ValueError: a daily set without listed keys whose bounds are not ISO dates.
        """
        positions = self._positions
        if positions is not None:
            return list(positions)
        if self.kind != "daily" or self.first is None or self.last is None:
            return None
        return _days(self.first, self.last)

    def between(self, first: str, last: str) -> list[str]:
        """The keys from ``first`` to ``last`` inclusive, in the job's order.

        With listed keys both bounds must be keys of the set; without them the set must be
        daily and the bounds ISO dates (each day from ``first`` to ``last``).

        Raises:
            ValueError: a bound that is not a key of the set, ``last`` before ``first``, or a
                set whose keys cannot be listed (no listed keys and not daily).
        """
        positions = self._positions
        if positions is None:
            if self.kind != "daily":
                raise ValueError(f"the {self.kind} partition set {self.describe()} has no listed "
                                 "keys: a range of it cannot be expanded here")
            missing = [k for k in (first, last) if not self.contains(k)]
            if missing:
                raise ValueError(f"{missing[0]!r} is not a partition of {self.describe()}")
            if last < first:
                raise ValueError(f"partition range {first}..{last} is reversed: {last!r} comes "
                                 f"before {first!r}")
            return _days(first, last)
        missing = [k for k in (first, last) if k not in positions]
        if missing:
            raise ValueError(f"{missing[0]!r} is not a partition of {self.describe()}")
        low, high = positions[first], positions[last]
        if high < low:
            raise ValueError(f"partition range {first}..{last} is reversed: {last!r} comes "
                             f"before {first!r} in the job's order")
        return list(self.listed[low:high + 1])  # type: ignore[index]

    def span(self, first: str, last: str | None) -> tuple[str, ...] | None:
        """The listed keys a range run over ``first..last`` covers (``last`` None: ``first``
        alone), in the job's order; None when the set has no listed keys or an end is not one
        of them (the caller then compares as text)."""
        if self._positions is None:
            return None
        try:
            return tuple(self.between(first, last or first))
        except ValueError:
            return None

    @functools.cached_property
    def sorts_as_text(self) -> bool:
        """True when the key order is string order (ISO dates, Dagster's hourly and monthly
        keys); False for listed keys in another order (static keys as declared)."""
        positions = self._positions
        if positions is None:
            return True
        keys = list(positions)
        return all(a < b for a, b in zip(keys, keys[1:]))

    def describe(self) -> str:
        """A short human form, e.g. ``daily 2013-01-01..2013-12-31`` or
        ``hourly 2013-01-01-00:00..2013-12-31-23:00 (8760 keys)``."""
        text = f"{self.kind} {self.first or '*'}..{self.last or '*'}"
        positions = self._positions
        return text if positions is None else f"{text} ({len(positions)} keys)"


def _days(first: str, last: str) -> list[str]:
    start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def _is_iso_date(key: str) -> bool:
    try:
        return dt.date.fromisoformat(key).isoformat() == key
    except (TypeError, ValueError):
        return False
