"""An IO manager that never overwrites a result (C1-T06).

Each output of an asset partition is pickled to a content-addressed file
``<OPSREL_HOME>/results/<asset>/<partition>/<sha256>.pkl`` (written once, never replaced) and
recorded as a new, inactive result version of that asset partition. The projection activates a
run's versions when the run ends SUCCESS; a failed or stopped run's versions stay inactive.

Loading an input inside a run reads the version that same run produced when there is one
(downstream steps see what their run made), otherwise the active version.

A range run (single-run backfill policy, field report RB-12) covers several partitions in one
step: the asset returns a mapping ``{partition_key: value}`` with exactly the run's keys, and
each becomes its own version, all linked to the one execution; an input over several partitions
is loaded as such a mapping.

With ``OPSREL_CONSOLE_URL`` set, a one-partition output's materialization carries
``opsrel/console``: a URL of its partition's page in the opsrel console (``domain.console_links``),
so the Dagster UI links there.
"""

import hashlib
import os
import pickle
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from opsrel_core.domain import console_links, error_codes
from opsrel_core.errors import BatchExecutionException, LogicException
from opsrel_core.services.batch_execution import BatchExecutionService, ExecutionView
from opsrel_core.services.result_versions import ResultVersionService, ResultVersionView
from opsrel_dagster.failures import as_failure
from opsrel_dagster.replay_policy import refuse_unattributed_replacement
from opsrel_dagster.resources import OpsDatabase

VERSION_NUMBER_KEY = "opsrel/version_number"
CONTENT_HASH_KEY = "opsrel/content_hash"
REPLACES_KEY = "opsrel/replaces_version"
RANGE_VERSIONS_KEY = "opsrel/versions_by_partition"
# The partition's page in the opsrel console (with OPSREL_CONSOLE_URL), shown as a link in the UI.
CONSOLE_KEY = "opsrel/console"


def len_or_one(obj: Any) -> int:
    """Rows of one partition's value: ``len(obj)`` (a DataFrame's rows; a domain's own value
    type says its rows by defining ``__len__``), else 1."""
    try:
        return len(obj)
    except TypeError:
        return 1


def _row_count(context: dg.OutputContext, obj: Any) -> int:
    # The asset's own figure first (``dagster/row_count`` in its output metadata).
    declared = (context.output_metadata or {}).get("dagster/row_count")
    if declared is not None:
        return int(getattr(declared, "value", declared))
    try:
        return len(obj)
    except TypeError:
        return 1


def write_once(directory: Path, data: bytes) -> tuple[str, Path]:
    """Store ``data`` under its content hash in ``directory`` unless it is already there.

    Returns:
        (``sha256:<hex>``, the file's path).
    """
    digest = hashlib.sha256(data).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{digest}.pkl"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return f"sha256:{digest}", path


def file_uri_path(uri: str) -> Path:
    """The local path of a ``file://`` URI as ``Path.as_uri`` writes it, percent-decoded (an
    hourly key's ``:`` is stored as ``%3A``: ``.../2013-11-03-01%3A00-0500.pkl``)."""
    parsed = urllib.parse.urlparse(uri)
    return Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else Path(uri)


def read_version(version: ResultVersionView) -> Any:
    """Load the data of a stored version (``storage_uri`` is a ``file://`` URI)."""
    path = file_uri_path(version.storage_uri)
    with path.open("rb") as fh:
        return pickle.load(fh)


class VersionedIOManager(dg.ConfigurableIOManager):
    """Stores every materialization of an asset partition as a new result version.

    Attributes:
        ops_db: the ops database resource.
    """

    ops_db: dg.ResourceDependency[OpsDatabase]

    def _versions(self) -> ResultVersionService:
        return ResultVersionService(self.ops_db.engine)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write ``obj`` once under its content hash and record a new inactive version; in a
        range run, one version per partition of the mapping ``obj``.

        Raises:
            dg.Failure: LOG-001 when a range run's output is not a mapping with exactly the
                run's partition keys (nothing is written).
        """
        if context.has_asset_partitions:
            # Nothing is written over an active result by a run nobody decided (BAT-007).
            refuse_unattributed_replacement(
                context.step_context.dagster_run, context.step_context.instance, self.ops_db,
                [context.asset_key.to_user_string()], list(context.asset_partition_keys))
        if context.has_asset_partitions and not context.has_partition_key:
            keys = list(context.asset_partition_keys)
            if not isinstance(obj, Mapping) or sorted(obj) != sorted(keys):
                asset_key = context.asset_key.to_user_string()
                raise as_failure(
                    LogicException(
                        error_codes.LOG_INVARIANT_BROKEN,
                        f"{asset_key} ran over {keys[0]}..{keys[-1]} ({len(keys)} partitions) "
                        "and must return a mapping {partition_key: value} with exactly those "
                        f"keys; it returned {type(obj).__name__}",
                    ),
                    asset_key=asset_key, partition_key=None,
                )
            self._ensure_execution(context)  # once per output, not per day (B2)
            numbers = {key: self._store(context, key, obj[key], len_or_one(obj[key]),
                                        checked=True)[0]
                       for key in keys}
            self._progress(context)  # once per output, not per day (B2: a year in one run)
            context.add_output_metadata({RANGE_VERSIONS_KEY: dg.MetadataValue.json(numbers)})
            return
        partition_key = context.partition_key if context.has_partition_key else "__all__"
        number, replaces, content_hash = self._store(
            context, partition_key, obj, _row_count(context, obj)
        )
        execution = self._progress(context)
        metadata: dict[str, Any] = {
            VERSION_NUMBER_KEY: number, CONTENT_HASH_KEY: content_hash, REPLACES_KEY: replaces}
        link = self._console_link(execution, partition_key if context.has_partition_key else None)
        if link is not None:
            metadata[CONSOLE_KEY] = dg.MetadataValue.url(link)
        context.add_output_metadata(metadata)

    def _console_link(self, execution: ExecutionView | None,
                      partition_key: str | None) -> str | None:
        # The job id is the one opsrel recorded for this run (the execution row), not a guess
        # from the asset; no page for an unpartitioned output or an unrecorded run.
        if execution is None or partition_key is None:
            return None
        return console_links.absolute(
            self.ops_db.settings.console_url,
            console_links.partition_path(execution.job_id, partition_key))

    def _ensure_execution(self, context: dg.OutputContext) -> None:
        # The version row refers to the execution: record the run first when it is not yet.
        from opsrel_dagster.projection import RunProjection

        if BatchExecutionService(self.ops_db.engine).find_execution(context.run_id) is None:
            RunProjection(context.step_context.instance, self.ops_db.engine).project_run(
                context.run_id
            )

    def _store(
        self, context: dg.OutputContext, partition_key: str, obj: Any, row_count: int,
        checked: bool = False,
    ) -> tuple[int, int | str, str]:
        """Write one partition's value and record its version; returns (its version number,
        the active version number it would replace or ``"none"``, its content hash).
        ``checked``: the execution is known to be recorded and the replaced version is not
        asked for (a range run's days: one round trip a day instead of three)."""
        asset_key = context.asset_key.to_user_string()
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        folder = self.ops_db.settings.home / "results" / asset_key / partition_key
        content_hash, path = write_once(folder, data)
        versions = self._versions()
        if not checked:
            self._ensure_execution(context)
        active = None if checked else versions.get_active_version(asset_key, partition_key)
        version = versions.create_version(
            asset_key=asset_key,
            partition_key=partition_key,
            execution_id=context.run_id,
            content_hash=content_hash,
            row_count=row_count,
            storage_uri=path.resolve().as_uri(),
        )
        return version.version_number, active.version_number if active else "none", content_hash

    def _progress(self, context: dg.OutputContext) -> ExecutionView | None:
        # Progress as the run goes: one finished asset step per output stored (ops-only). Counted
        # as the distinct assets with a version of this run, so a range run's step counts once.
        # Returns the run's execution as read before the update (None when not recorded).
        done = len({v.asset_key for v in self._versions().versions_of_execution(context.run_id)})
        executions = BatchExecutionService(self.ops_db.engine)
        execution = executions.find_execution(context.run_id)
        if execution is not None and not execution.status.is_terminal:
            executions.update_progress(
                context.run_id,
                steps_done=min(done, max(execution.steps_total, done)),
                steps_total=max(execution.steps_total, done),
            )
        return execution

    def load_input(self, context: dg.InputContext) -> Any:
        """Read this run's version of the upstream partition, else the active one; over several
        partitions (a range run), a mapping ``{partition_key: value}``.

        Raises:
            dg.Failure: BAT-006 when the upstream partition has no version to read; BAT-007
                before anything is read when the run selects an asset partition with an active
                result and nobody decided the run (``replay_policy``).
        """
        self._refuse_before_compute(context)
        if context.has_asset_partitions and len(context.asset_partition_keys) > 1:
            # This run's versions of the asset in one query, not one per day (B2).
            asset_key = context.asset_key.to_user_string()
            run_id = context.upstream_output.run_id if context.upstream_output else None
            made = {v.partition_key: v for v in (
                self._versions().versions_of_execution(run_id) if run_id else [])
                if v.asset_key == asset_key}
            return {key: self._load(context, key, made.get(key))
                    for key in context.asset_partition_keys}
        partition_key = context.asset_partition_key if context.has_asset_partitions else "__all__"
        return self._load(context, partition_key)

    def _refuse_before_compute(self, context: dg.InputContext) -> None:
        # A step's inputs load before it computes: fail fast there when the run would write
        # over an active result of the assets this step produces (its output is checked again
        # before it is stored). Partitions: the run's one, else the input's (the same days
        # under the identity mapping of a range run). A check step produces no asset.
        step = context.step_context
        if not context.has_asset_partitions or step.is_asset_check_step:
            return
        produced = sorted(key.to_user_string() for key in step.get_output_asset_keys())
        run = step.dagster_run
        single = run.tags.get("dagster/partition")
        partitions = [single] if single else list(context.asset_partition_keys)
        refuse_unattributed_replacement(run, step.instance, self.ops_db, produced, partitions)

    def _load(self, context: dg.InputContext, partition_key: str,
              version: ResultVersionView | None = None) -> Any:
        # ``version``: this run's version when the caller has looked it up already.
        asset_key = context.asset_key.to_user_string()
        versions = self._versions()
        run_id = context.upstream_output.run_id if context.upstream_output else None
        if version is None and run_id:
            version = versions.version_of_execution(asset_key, partition_key, run_id)
        version = version or versions.get_active_version(asset_key, partition_key)
        if version is None:
            raise as_failure(
                BatchExecutionException(
                    error_codes.BAT_NO_ACTIVE_VERSION,
                    f"{asset_key} partition {partition_key} has no active result version to read; "
                    f"materialize {asset_key} for {partition_key} first (or in the same run)",
                ),
                asset_key=asset_key,
                partition_key=partition_key,
            )
        return read_version(version)
