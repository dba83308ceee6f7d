"""Fail fast, in every step, a run that may not replace the active result.

The guarantee itself is the activation gate (``opsrel_core.domain.activation``): a version of a
run that nobody decided never replaces an active one. This guard only spares the work: a step
that would write over an active result of a run without a decision (``opsrel_core.domain.
attribution``: no operator and reason of its own; a re-execution's copied tags do not count)
fails at once with BAT-007, whose message says what to do, and writes nothing; the active result
stays. ``VersionedIOManager`` calls it before it loads a step's inputs and before it stores an
output, so every step using opsrel's IO manager is covered, whichever assets a run selects; a
source asset may call ``require_attribution_to_replace`` before it reads its input.
"""

import collections
from collections.abc import Sequence

import dagster as dg

from opsrel_core.domain import error_codes
from opsrel_core.domain.attribution import Attribution, attribute
from opsrel_core.domain.status import TriggerType
from opsrel_core.errors import BatchExecutionException
from opsrel_core.services.results import ResultVersionService
from opsrel_dagster.failures import as_failure
from opsrel_dagster.projection.launch_facts import launch_facts
from opsrel_dagster.resources import OpsDatabase

_CACHE_SIZE = 256
_attributions: "collections.OrderedDict[str, Attribution]" = collections.OrderedDict()
# (run id, assets, partitions) already found free of active results: asked once per run, not per
# step (an active version appears only when a run ends, never while this one runs).
_clear: "collections.OrderedDict[tuple, bool]" = collections.OrderedDict()


def cached_attribution(run: dg.DagsterRun, instance: dg.DagsterInstance) -> Attribution:
    """The run's attribution, computed once per run id in this process (a run's tags and
    parent do not change while it runs)."""
    found = _attributions.get(run.run_id)
    if found is None:
        found = attribute(launch_facts(run, instance))
        _attributions[run.run_id] = found
        while len(_attributions) > _CACHE_SIZE:
            _attributions.popitem(last=False)
    return found


def refuse_unattributed_replacement(
    run: dg.DagsterRun, instance: dg.DagsterInstance, ops_db: OpsDatabase,
    asset_keys: Sequence[str], partition_keys: Sequence[str],
) -> None:
    """Raise BAT-007 when the run would replace an active result and nobody decided it.

    Args:
        run, instance: the running Dagster run and its instance.
        ops_db: the ops database.
        asset_keys: the assets the step writes (or the run selects).
        partition_keys: their partitions in this run.

    Raises:
        dg.Failure: BAT-007 with the error code in its metadata, naming the active version.
    """
    if not asset_keys or not partition_keys:
        return
    who = cached_attribution(run, instance)
    if who.may_replace:
        return
    asked = (run.run_id, tuple(asset_keys), tuple(partition_keys))
    if asked in _clear:
        return
    active = ResultVersionService(ops_db.engine).first_active_version(asset_keys, partition_keys)
    if active is None:
        _clear[asked] = True
        while len(_clear) > _CACHE_SIZE:
            _clear.popitem(last=False)
        return
    if who.trigger in (TriggerType.REEXECUTE, TriggerType.RETRY):
        why = (f"This run is a {who.reason}; it copies that run's tags, which are not a new "
               "decision. To recompute the partition, replay it (`opsrel replay single "
               f"{active.partition_key} --reason ...`), or re-execute from the launchpad with "
               "tags opsrel/operator=<your id> and opsrel/reason=<why> of your own.")
    else:
        why = ("Re-running it replaces that result, so it needs an operator and a reason: "
               "launch it as a replay (`opsrel replay ...`), or add the tags "
               "opsrel/operator=<your id> and opsrel/reason=<why> in the Dagster UI's launch "
               "dialog.")
    raise as_failure(
        BatchExecutionException(
            error_codes.BAT_REPLAY_REASON_REQUIRED,
            f"{active.asset_key} {active.partition_key} already has an active result (version "
            f"{active.version_number}, execution {active.execution_id}). {why}",
            {"version_number": active.version_number, "execution_id": active.execution_id},
        ),
        asset_key=active.asset_key,
        partition_key=active.partition_key,
    )


def require_attribution_to_replace(context: dg.AssetExecutionContext, ops_db: OpsDatabase) -> None:
    """``refuse_unattributed_replacement`` for the running asset's own partitions, called by a
    source asset before it reads anything.

    Raises:
        dg.Failure: BAT-007 (see ``refuse_unattributed_replacement``).
    """
    if not (context.has_partition_key or context.has_partition_key_range):
        return
    refuse_unattributed_replacement(
        context.run, context.instance, ops_db,
        [key.to_user_string() for key in context.selected_asset_keys],
        list(context.partition_keys),
    )
