"""What opsrel needs to know of one domain's batch job, declared once by the domain.

A domain under ``defs/`` declares an ``OpsrelJob``; the assembly (``definitions.py``) collects the
declarations, merges their definitions into the code location and builds the sensors from them;
the runner, ``opsrel reproduce`` and the CLI receive a declaration from the assembly by job id.
Nothing in the library reads a domain's asset names or metadata keys: they come from here.
"""

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import dagster as dg

from opsrel_core.domain.deadlines import PartitionDeadline
from opsrel_dagster.keys import adjacent_ranges, local_day_keys, partitions_kind
from opsrel_dagster.projection.launch_facts import blocking_checks_of
from opsrel_dagster.projection.provenance import LineageSpec

BY_PARTITION_METADATA = "opsrel/by_partition"
"""Materialization metadata of a step over a range: ``{partition_key: {figure: value}}``."""

SNAPSHOT_IDS_METADATA = "opsrel/snapshot_ids"
"""Materialization metadata of a snapshot step over a range: ``{partition_key: snapshot_id}``."""


@dataclasses.dataclass(frozen=True)
class OpsrelJob:
    """One batch job as opsrel records, replays and reports it.

    Attributes:
        job_id: the batch-job catalog id (``batch_job.job_id``), e.g. ``"flights_daily"``.
        definitions: the domain's assets, asset checks and resources.
        partitions_def: the job's partitions; replays and ranges expand through it.
        asset_selection: the assets a run of the job materializes (sensors launch these).
        lineage: each asset's layer and inputs.
        result_assets: the RESULT layer's asset keys (what ``opsrel reproduce`` compares).
        snapshot_asset, snapshot_metadata_key: the asset whose materialization names the input
            snapshot of a one-partition run, and the metadata key holding it (a range run's
            step writes ``SNAPSHOT_IDS_METADATA``).
        summary_asset, summary_metadata_key: the asset and metadata figure (an integer) the
            run summary shows per partition (a range run's step writes it per partition under
            ``BY_PARTITION_METADATA``); None: no figure.
        landing_file: the landing file name of a partition, ``{partition}`` standing for the
            key (``opsrel reproduce`` lays a snapshot out as it); None: the job reads no
            landing files.
        name, description: how the batch-job catalog names and describes the job (default:
            the job id, no description).
        replay_range_size: partitions per run when the daemon's replay-launch sensor launches
            a replay: 1 (default) a run per partition; N > 1 adjacent partitions as single-run
            ranges of up to N (every asset of the job must have the single-run backfill
            policy). A range run succeeds or fails as a whole.
        partition_deadline: by when after its end a partition must have an active version
            (``domain.deadlines.PartitionDeadline``: a delay and the job's timezone); the
            late-partition sensor raises BAT-015 for a partition past it. None: no deadline
            (a deadline already in the catalog is kept).
    """

    job_id: str
    definitions: dg.Definitions
    partitions_def: dg.PartitionsDefinition
    asset_selection: dg.AssetSelection
    lineage: LineageSpec
    result_assets: tuple[str, ...]
    snapshot_asset: str | None = None
    snapshot_metadata_key: str | None = None
    summary_asset: str | None = None
    summary_metadata_key: str | None = None
    landing_file: str | None = None
    name: str | None = None
    description: str = ""
    replay_range_size: int = 1
    partition_deadline: PartitionDeadline | None = None

    def materializable(self) -> list[Any]:
        """The job's asset and asset-check definitions, as ``dg.materialize`` takes them."""
        return [*(self.definitions.assets or []), *(self.definitions.asset_checks or [])]

    def assets(self) -> list[Any]:
        """The job's asset definitions only (upstream first, as the domain lists them)."""
        return list(self.definitions.assets or [])

    def resources(self) -> dict[str, Any]:
        """The domain's resources, by key."""
        return dict(self.definitions.resources or {})

    def blocking_checks(self) -> dict[str, frozenset[str]]:
        """The job's blocking asset checks by asset key (``launch_facts.blocking_checks_of``)."""
        return blocking_checks_of(self.definitions)

    @functools.cached_property
    def _keys(self) -> tuple[str, ...]:
        # Listing a year of hourly keys costs Dagster about 0.3 s: once per declaration.
        return tuple(self.partitions_def.get_partition_keys())

    @functools.cached_property
    def _key_order(self) -> dict[str, int]:
        return {key: i for i, key in enumerate(self._keys)}

    def partition_keys(self) -> list[str]:
        """Every partition key of the job, in its partitions definition's order (for the
        hourly America/New_York 2013 set: 8,760 keys, ``2013-11-03-01:00-0500`` after
        ``2013-11-03-01:00``)."""
        return list(self._keys)

    def partitions_kind(self) -> str:
        """How the job's keys are cut, as the batch-job catalog names it: ``daily``, ``hourly``,
        ``weekly``, ``monthly`` (a time window of that cadence), ``time_window`` (any other
        cron), ``static`` or ``other``."""
        return partitions_kind(self.partitions_def)

    def ranges(self, partition_keys: "Sequence[str]", size: int) -> list[list[str]]:
        """``partition_keys`` split into runs of up to ``size`` neighbouring keys
        (``adjacent_ranges`` over the job's key order)."""
        return adjacent_ranges(self._key_order, partition_keys, size)

    def position_of(self, partition_key: str) -> int | None:
        """The key's position in the job's key order, or None when it is not a partition."""
        return self._key_order.get(partition_key)

    def keys_between(self, first: str, last: str) -> list[str]:
        """The job's keys from ``first`` to ``last`` inclusive, in the partitions definition's
        order (never by date arithmetic: on the fall-back day of an hourly New York set,
        ``2013-11-03-00:00``..``2013-11-03-23:00`` is 25 keys).

        A bound may also be a local date ``YYYY-MM-DD`` for a job cut finer than a day (the
        hourly weather job): ``first`` then stands for that day's first key and ``last`` for
        its last key, so ``2013-11-03``..``2013-11-03`` is the whole local day.

        Raises:
            ValueError: a bound that is neither a key nor (for a sub-daily job) a date with
                keys, or ``last`` before ``first``; the message names the job's first and
                last keys.
        """
        keys = self.partition_keys()
        start, end = self._bound(first, keys, 0), self._bound(last, keys, -1)
        if start is None or end is None:
            wrong = first if start is None else last
            raise ValueError(f"{wrong!r} is not a partition of job {self.job_id} "
                             f"({self.partitions_kind()}, {keys[0]}..{keys[-1]})")
        if end < start:
            raise ValueError(f"{last} is before {first} in job {self.job_id}")
        return keys[start:end + 1]

    def _bound(self, value: str, keys: list[str], side: int) -> int | None:
        position = self.position_of(value)
        if position is not None or not isinstance(self.partitions_def,
                                                  dg.TimeWindowPartitionsDefinition):
            return position
        inside = local_day_keys(self.partitions_def, value)
        return self.position_of(inside[side]) if inside else None

    def landing_file_of(self, partition_key: str) -> str:
        """The landing file name of ``partition_key``.

        Raises:
            ValueError: the job declares no landing files.
        """
        if self.landing_file is None:
            raise ValueError(f"job {self.job_id} reads no landing files")
        return self.landing_file.format(partition=partition_key)
