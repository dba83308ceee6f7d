"""What opsrel needs to know of one domain's batch job, declared once by the domain.

A domain under ``defs/`` declares an ``OpsrelJob``; the assembly (``definitions.py``) collects the
declarations, merges their definitions into the code location and builds the sensors from them;
the runner, ``opsrel reproduce`` and the CLI receive a declaration from the assembly by job id.
Nothing in the library reads a domain's asset names or metadata keys: they come from here.
"""

import dataclasses
from typing import Any

import dagster as dg

from opsrel_dagster.launch_facts import blocking_checks_of
from opsrel_dagster.provenance import LineageSpec

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

    def landing_file_of(self, partition_key: str) -> str:
        """The landing file name of ``partition_key``.

        Raises:
            ValueError: the job declares no landing files.
        """
        if self.landing_file is None:
            raise ValueError(f"job {self.job_id} reads no landing files")
        return self.landing_file.format(partition=partition_key)
