"""The activation gate and the fail-fast guard on real Dagster runs of the flights pipeline,
both backends: whichever path launches a run, only a decided, checked result replaces the
active one.

- A downstream-only run (one asset of the pipeline, as the UI's Materialize on that asset or
  ``dagster asset materialize --select`` does) for a day that has a result fails at once with
  BAT-007 when nobody decided it, and the active result stays; with an operator and a reason it
  replaces the result and is audited.
- A run of the assets without their blocking checks finishes SUCCESS in Dagster, yet none of its
  versions of that day becomes active: the unchecked asset names the check that did not run and
  its downstream results are held back with it.
"""

import dagster as dg
import pandas as pd

from opsrel_core.services.audit_log import AuditLogService
from opsrel_core.services.results import ResultVersionService
from opsrel_dagster.defs.flights import FLIGHT_ASSETS
from opsrel_dagster.defs.flights import defs as flights_defs
from opsrel_dagster.defs.flights.package_data import package_flights_for_day
from opsrel_dagster.defs.flights.rules import FLIGHT_CHECKS
from tests.dagster.conftest import opsrel_env, runner  # noqa: F401 - fixtures

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
ONTIME = next(a for a in FLIGHT_ASSETS if a.key.to_user_string() == "ontime_performance")


def _active(runner, asset: str, day: str):
    return ResultVersionService(runner.engine).get_active_version(asset, day)


def test_downstream_only_unattributed_run_is_refused_and_the_result_stays(runner):
    day = "2013-04-10"
    [first] = runner.run_partitions([day])
    assert first.status == "SUCCESS"
    before = _active(runner, "ontime_performance", day)
    assert before is not None and before.execution_id == first.run_id

    # Only ontime_performance, no tags: the UI's Materialize on that one asset.
    bare = dg.materialize(
        FLIGHT_ASSETS, selection=[ONTIME.key], partition_key=day, instance=runner.instance,
        resources=dict(flights_defs.resources), run_config=QUIET, raise_on_error=False,
    )
    assert not bare.success
    execution = runner.projection.project_run(bare.run_id)
    assert (execution.status.value, execution.error_code) == ("FAILED", "BAT-007")
    assert execution.trigger_type == "MANUAL" and execution.operator_id is None
    assert "already has an active result" in execution.error_message
    assert "opsrel/operator" in execution.error_message
    # it failed before computing (no step yielded an output): no version was written, the
    # active one is unchanged
    assert runner.instance.get_records_for_run(
        bare.run_id, of_type=dg.DagsterEventType.STEP_OUTPUT).records == []
    assert ResultVersionService(runner.engine).versions_of_execution(bare.run_id) == []
    assert _active(runner, "ontime_performance", day) == before
    assert AuditLogService(runner.engine).list_audit_logs(target_id=bare.run_id) == []

    # The same selection with an operator and a reason is a decision: it replaces, audited.
    decided = dg.materialize(
        FLIGHT_ASSETS, selection=[ONTIME.key], partition_key=day, instance=runner.instance,
        resources=dict(flights_defs.resources), run_config=QUIET, raise_on_error=False,
        tags={"opsrel/operator": "dana", "opsrel/reason": "carrier map fixed"},
    )
    assert decided.success
    execution = runner.projection.project_run(decided.run_id)
    assert (execution.status.value, execution.operator_id) == ("SUCCESS", "dana")
    now = _active(runner, "ontime_performance", day)
    assert now.execution_id == decided.run_id and now.version_number == before.version_number + 1
    [audit] = AuditLogService(runner.engine).list_audit_logs(target_id=decided.run_id)
    assert (audit.action, audit.operator_id, audit.reason) == (
        "MANUAL_RUN", "dana", "carrier map fixed")


def _duplicated_day(day: str) -> pd.DataFrame:
    # The day's flights with its first flight delivered twice: flight_key_unique (FAIL) fails.
    import datetime as dt

    flights = package_flights_for_day(dt.date.fromisoformat(day))
    return pd.concat([flights, flights.head(1)], ignore_index=True)


def test_assets_without_their_checks_never_become_active(runner, opsrel_env):
    from pathlib import Path

    day = "2013-04-11"
    [first] = runner.run_partitions([day])
    earlier = {a.key.to_user_string(): _active(runner, a.key.to_user_string(), day)
               for a in FLIGHT_ASSETS}
    assert all(v is not None and v.execution_id == first.run_id for v in earlier.values())

    landing = Path(opsrel_env["OPSREL_LANDING_DIR"])
    _duplicated_day(day).to_csv(landing / f"flights_{day}.csv", index=False)
    # Every asset, no check, decided by an operator: Dagster records SUCCESS.
    unchecked = dg.materialize(
        FLIGHT_ASSETS, partition_key=day, instance=runner.instance,
        resources=dict(flights_defs.resources), run_config=QUIET, raise_on_error=False,
        tags={"opsrel/operator": "dana", "opsrel/reason": "re-delivered file"},
    )
    assert unchecked.success
    execution = runner.projection.project_run(unchecked.run_id)
    assert execution.status.value == "SUCCESS"
    made = {v.asset_key: v for v in
            ResultVersionService(runner.engine).versions_of_execution(unchecked.run_id)}
    assert set(made) == set(earlier)
    assert not any(v.is_active for v in made.values())
    assert "blocking check carrier_known of clean_flights did not run" in (
        made["clean_flights"].inactive_reason)
    for asset in ("raw_flights", "ontime_performance", "delay_simulation"):
        assert made[asset].inactive_reason.startswith("held back with clean_flights:"), asset
    # the operator reads why in the version history
    from click.testing import CliRunner

    from opsrel_dagster.app.cli import cli

    shown = CliRunner().invoke(cli, ["versions", "list", "--asset", "clean_flights",
                                     "--partition", day])
    assert shown.exit_code == 0, shown.output
    assert "the blocking check carrier_known of clean_flights did not run" in shown.output
    # the earlier results stay in service, and projecting again changes nothing
    runner.projection.project_run(unchecked.run_id)
    assert {a: _active(runner, a, day) for a in earlier} == earlier

    # The same data with its checks: flight_key_unique fails, the run fails, nothing replaced.
    checked = dg.materialize(
        [*FLIGHT_ASSETS, *FLIGHT_CHECKS], partition_key=day, instance=runner.instance,
        resources=dict(flights_defs.resources), run_config=QUIET, raise_on_error=False,
        tags={"opsrel/operator": "dana", "opsrel/reason": "re-delivered file"},
    )
    execution = runner.projection.project_run(checked.run_id)
    assert (execution.status.value, execution.error_code) == ("FAILED", "DQ-001")
    assert {a: _active(runner, a, day) for a in earlier} == earlier


def test_python_reexecution_is_linked_to_its_parent(runner):
    from tests.support.flights import flights_job

    day = "2013-04-12"
    [first] = runner.run_partitions([day])
    in_process = {**QUIET, "execution": {"config": {"in_process": {}}}}
    # Nobody decided this run of a day with a result: it fails BAT-007 before it computes.
    with dg.execute_job(dg.reconstructable(flights_job), runner.instance,
                        run_config=in_process, tags={"dagster/partition": day},
                        raise_on_error=False) as parent:
        assert not parent.success
        parent_id = parent.run_id
    # Re-executed from Python: Dagster sets the run's parent, not always its parent tag (and
    # not the partition tag, which the caller passes again).
    options = dg.ReexecutionOptions.from_failure(parent_id, runner.instance)
    with dg.execute_job(dg.reconstructable(flights_job), runner.instance,
                        run_config=in_process, reexecution_options=options,
                        tags={"dagster/partition": day}, raise_on_error=False) as again:
        again_id = again.run_id
    runner.projection.project_run(parent_id)
    execution = runner.projection.project_run(again_id)
    assert (execution.trigger_type, execution.parent_execution_id) == ("REEXECUTE", parent_id)
    assert (execution.status.value, execution.error_code) == ("FAILED", "BAT-007"), (
        execution.error_message)
    assert _active(runner, "ontime_performance", day).execution_id == first.run_id
