"""One writer per partition: is a job's partition busy? Pure functions; no I/O.

A partition is busy while a run that may write it is in flight: an execution READY or RUNNING
whose partition is that key or whose range covers it, or a replay REQUESTED, RUNNING or STOPPING
whose plan includes it. A new replay (any entry point) of a busy partition is refused with
BAT-012 and writes nothing; the landing sensor waits and asks again on a later tick.
"""

import dataclasses
import functools
from collections.abc import Iterable, Sequence

from opsrel_core.domain import error_codes
from opsrel_core.domain.replay_status import IN_FLIGHT_STATUSES
from opsrel_core.errors import ConflictException

EXECUTION_IN_FLIGHT = ("READY", "RUNNING")
REPLAY_IN_FLIGHT: tuple[str, ...] = tuple(s.value for s in IN_FLIGHT_STATUSES)


@dataclasses.dataclass(frozen=True)
class InFlight:
    """One run or replay in flight.

    Attributes:
        kind: ``execution`` or ``replay``.
        ident: the execution id or the replay id (as text).
        status: its status.
        partitions: the keys it writes, when known exactly (a single-partition execution, a
            replay's plan, a range run whose ends are keys of the job's registered order);
            else None and ``range_start..range_end`` (inclusive, string order) is used.
    """

    kind: str
    ident: str
    status: str
    partitions: tuple[str, ...] | None = None
    range_start: str | None = None
    range_end: str | None = None

    @functools.cached_property
    def _partition_set(self) -> frozenset[str] | None:
        # A full replay of an hourly job plans thousands of keys: look them up, not along.
        return None if self.partitions is None else frozenset(self.partitions)

    def covers(self, key: str) -> bool:
        """True when this run may write partition ``key``."""
        if self._partition_set is not None:
            return key in self._partition_set
        if self.range_start is None:
            return False
        return self.range_start <= key <= (self.range_end or self.range_start)

    def describe(self) -> str:
        """E.g. ``replay 12 (RUNNING)`` or ``execution 4f1c... (READY)``."""
        return f"{self.kind} {self.ident} ({self.status})"


def busy_keys(keys: Sequence[str], in_flight: Iterable[InFlight]) -> dict[str, list[InFlight]]:
    """Per busy key of ``keys``, what is in flight for it (keys without anything are left out)."""
    runs = list(in_flight)
    found: dict[str, list[InFlight]] = {}
    for key in keys:
        writers = [r for r in runs if r.covers(key)]
        if writers:
            found[key] = writers
    return found


def ensure_not_busy(job_id: str, keys: Sequence[str], in_flight: Iterable[InFlight]) -> None:
    """Refuse a new writer for partitions that have a run in flight.

    Raises:
        ConflictException: BAT-012 (``BAT_PARTITION_BUSY``) naming the busy partitions and what
            is in flight for them, and what to do.
    """
    busy = busy_keys(keys, in_flight)
    if not busy:
        return
    first = next(iter(busy))
    writers = sorted({w.describe() for ws in busy.values() for w in ws})
    more = f" and {len(busy) - 1} more" if len(busy) > 1 else ""
    raise ConflictException(
        error_codes.BAT_PARTITION_BUSY,
        f"partition {first}{more} of job {job_id!r} has a run in flight: {', '.join(writers[:5])}; "
        "wait until it ends (its result may already be what you want), or stop it, then ask "
        "again; nothing was recorded",
        {"job_id": job_id, "partitions": list(busy)[:20], "in_flight": writers[:20]},
    )
