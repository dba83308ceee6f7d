"""An IO manager that never overwrites a result.

Each output of an asset partition is pickled to a content-addressed file
``<OPSREL_HOME>/results/<asset>/<partition>/<sha256>.pkl`` (written once, never replaced) and
recorded as a new, inactive result version of that asset partition. The projection activates a
run's versions when the run ends SUCCESS; a failed or stopped run's versions stay inactive.

Loading an input inside a run reads the version that same run produced when there is one
(downstream steps see what their run made), otherwise the active version.

A range run (single-run backfill policy) covers several partitions in one
step: the asset returns a mapping ``{partition_key: value}`` with exactly the run's keys, and
each becomes its own version, all linked to the one execution; an input over several partitions
is loaded as such a mapping. Code that asked for "the" partition key would crash in such a
run, or see one key where there are many.

With ``OPSREL_CONSOLE_URL`` set, a one-partition output's materialization carries
``opsrel/console``: a URL of its partition's page in the opsrel console (``domain.console_links``),
so the Dagster UI links there.
"""

import pickle
from collections.abc import Mapping
from typing import Any

import dagster as dg

from opsrel_core.domain import console_links, error_codes
from opsrel_core.errors import BatchExecutionException, LogicException
from opsrel_core.services.batch_execution import ExecutionView
from opsrel_core.services.results import NewVersion, OutputRecorder, RecordedOutput
from opsrel_core.services.results import ResultVersionService, ResultVersionView
from opsrel_dagster.failures import as_failure
from opsrel_dagster.result_files import read_version, write_once
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


class _RunVersions:
    """The versions recent runs recorded in this process, by run, asset and partition.

    A downstream step of the same run reads its input from here instead of asking the ops
    database: in-process execution (the headless runner, ``dg.materialize``) runs every step of
    a run in one process. A version never changes once recorded (its bytes are content-addressed
    and its row only gains an activation state, which reading this run's version ignores), so
    nothing here goes stale. Only the newest few runs are kept.
    """

    _RUNS = 4

    def __init__(self) -> None:
        self._by_run: dict[str, dict[tuple[str, str], ResultVersionView]] = {}

    def remember(self, run_id: str, asset_key: str,
                 versions: Mapping[str, ResultVersionView]) -> None:
        made = self._by_run.pop(run_id, None) or {}
        made.update({(asset_key, key): version for key, version in versions.items()})
        self._by_run[run_id] = made  # the newest run last
        while len(self._by_run) > self._RUNS:
            del self._by_run[next(iter(self._by_run))]

    def of(self, run_id: str, asset_key: str, partition_key: str) -> ResultVersionView | None:
        return self._by_run.get(run_id, {}).get((asset_key, partition_key))


_MADE = _RunVersions()


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
            recorded = self._record(context, [self._write(context, key, obj[key],
                                                          len_or_one(obj[key])) for key in keys])
            numbers = {key: recorded.versions[key].version_number for key in keys}
            context.add_output_metadata({RANGE_VERSIONS_KEY: dg.MetadataValue.json(numbers)})
            return
        partition_key = context.partition_key if context.has_partition_key else "__all__"
        recorded = self._record(
            context, [self._write(context, partition_key, obj, _row_count(context, obj))])
        version = recorded.versions[partition_key]
        replaced = recorded.replaced[partition_key]
        metadata: dict[str, Any] = {
            VERSION_NUMBER_KEY: version.version_number, CONTENT_HASH_KEY: version.content_hash,
            REPLACES_KEY: "none" if replaced is None else replaced}
        link = self._console_link(recorded.execution,
                                  partition_key if context.has_partition_key else None)
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

    def _write(self, context: dg.OutputContext, partition_key: str, obj: Any,
               row_count: int) -> NewVersion:
        # The bytes first, under their content hash (written once, never replaced); the row
        # that refers to them is recorded after.
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        folder = self.ops_db.settings.home / "results" / context.asset_key.to_user_string() \
            / partition_key
        content_hash, path = write_once(folder, data)
        return NewVersion(partition_key=partition_key, content_hash=content_hash,
                          row_count=row_count, storage_uri=path.resolve().as_uri())

    def _record(self, context: dg.OutputContext, values: list[NewVersion]) -> RecordedOutput:
        """Record the output's versions and the run's progress in one ops transaction; the run
        is projected first only when the ops schema does not know it yet (its first output).

        Raises:
            dg.Failure: BAT-002 when the run is still unknown after its projection (it is no
                execution of a declared job); nothing is recorded.
        """
        asset_key = context.asset_key.to_user_string()
        recorder = OutputRecorder(self.ops_db.engine)
        recorded = recorder.record(execution_id=context.run_id, asset_key=asset_key,
                                   values=values)
        if recorded is None:
            # The version row refers to the execution: record the run, then the output.
            from opsrel_dagster.projection.apply import RunProjection

            RunProjection(context.step_context.instance, self.ops_db.engine).project_run(
                context.run_id)
            recorded = recorder.record(execution_id=context.run_id, asset_key=asset_key,
                                       values=values)
        if recorded is None:
            raise as_failure(
                BatchExecutionException(
                    error_codes.BAT_EXECUTION_NOT_FOUND,
                    f"run {context.run_id} is not recorded as an execution in the ops schema, "
                    f"so {asset_key} cannot be versioned; is its job declared in the code "
                    "location's opsrel assembly?",
                ),
                asset_key=asset_key,
                partition_key=context.partition_key if context.has_partition_key else None,
            )
        _MADE.remember(context.run_id, asset_key, recorded.versions)
        return recorded

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
            cached = {key: _MADE.of(run_id, asset_key, key) for key in
                      context.asset_partition_keys} if run_id else {}
            if run_id and None in cached.values():
                made = {v.partition_key: v for v in self._versions().versions_of_execution(run_id)
                        if v.asset_key == asset_key}
            else:
                made = {key: v for key, v in cached.items() if v is not None}
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
            version = _MADE.of(run_id, asset_key, partition_key) or \
                versions.version_of_execution(asset_key, partition_key, run_id)
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
