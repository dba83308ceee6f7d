"""A batch job's partition set, as the core knows it (no Dagster): kind and inclusive bounds.

``batch_job.partitions`` names how keys look (``daily``: ISO dates ``YYYY-MM-DD``) and
``batch_job.partition_start`` / ``partition_end`` (migration 0008) bound the set; a NULL bound is
open on that side. The Dagster code location keeps its ``PartitionsDefinition`` equal to this
(``tests/dagster/test_definitions.py``), so the CLI, the admin API and the preview refuse the
same keys.
"""

import dataclasses
import datetime as dt
from collections.abc import Iterable


@dataclasses.dataclass(frozen=True)
class PartitionSet:
    """The partition set of a job.

    Attributes:
        kind: ``"daily"`` (ISO date keys); any other kind only checks the bounds.
        first, last: inclusive bounds in key order (string order, which is date order for ISO
            dates), or None for an open side.
    """

    kind: str
    first: str | None = None
    last: str | None = None

    def contains(self, key: str) -> bool:
        """True when ``key`` is a partition of this set."""
        if self.kind == "daily" and not _is_iso_date(key):
            return False
        return (self.first is None or key >= self.first) and (self.last is None or key <= self.last)

    def outside(self, keys: Iterable[str]) -> list[str]:
        """The keys of ``keys`` that are not in the set, in the order given (no duplicates)."""
        return list(dict.fromkeys(k for k in keys if not self.contains(k)))

    def keys(self) -> list[str] | None:
        """Every key of the set in order, for a bounded daily set; None when the set cannot be
        listed here (another kind, or an open bound)."""
        if self.kind != "daily" or self.first is None or self.last is None:
            return None
        first, last = dt.date.fromisoformat(self.first), dt.date.fromisoformat(self.last)
        return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]

    def describe(self) -> str:
        """A short human form, e.g. ``daily 2013-01-01..2013-12-31``."""
        return f"{self.kind} {self.first or '*'}..{self.last or '*'}"


def _is_iso_date(key: str) -> bool:
    try:
        return dt.date.fromisoformat(key).isoformat() == key
    except (TypeError, ValueError):
        return False
