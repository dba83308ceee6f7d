"""B1 and B2: the flights pipeline with opsrel vs the same assets and pandera checks in plain Dagster.

The baseline reuses the pure asset definitions of the example pipeline (``clean_flights`` ..
``delay_simulation`` touch no ops database) and replaces the two that record into the ops schema
(``raw_flights``: the replay policy; ``flights_snapshot``: the snapshot row) with plain twins doing
the same pandas work and the same snapshot file. Values go through Dagster's own
``FilesystemIOManager`` instead of opsrel's versioned one, and each flights rule runs as a plain
asset check (``schema.validate(lazy=True)``, blocking for FAIL rules) with no ops records.

opsrel's side is ``HeadlessRunner.run_partitions`` (``opsrel run``): the run, then the projection
of the execution, its versions, check results, context, lineage and daily DQ report.
"""

import datetime as dt
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from benchmarks.common import Figure, alternate, ratio, scratch_env, summary, timed
from opsrel_dagster.checks import PanderaRule
from opsrel_dagster.defs.flights import FLIGHT_RULES, FlightsSource, SourceBatch, Stamped
from opsrel_dagster.defs.flights import (
    carrier_daily_stats, clean_flights, delay_explanation, delay_simulation, ontime_performance,
)
from opsrel_dagster.defs.flights.common import (
    ROW_COUNT_KEY, SNAPSHOT_ID_KEY, column_schema, flights_partitions, partition_date,
)
from opsrel_dagster.defs.flights.snapshot_store import canonical_frame, store_snapshot
from opsrel_dagster.headless import QUIET_RUN_CONFIG, HeadlessRunner


def plain_assets(snapshot_dir: Path) -> list:
    """The example pipeline's assets and checks without opsrel (see the module docstring)."""

    @dg.asset(name="raw_flights", group_name="flights", partitions_def=flights_partitions,
              code_version="1")
    def raw_flights_plain(context: dg.AssetExecutionContext,
                          flights_source: FlightsSource) -> dg.Output:
        batch = flights_source.load_day(partition_date(context))
        return dg.Output(batch, metadata={
            ROW_COUNT_KEY: len(batch.flights), "source_uri": batch.source_uri,
            "dagster/column_schema": column_schema(batch.flights),
        })

    @dg.asset(name="flights_snapshot", group_name="flights", partitions_def=flights_partitions,
              code_version="1")
    def flights_snapshot_plain(context: dg.AssetExecutionContext,
                               raw_flights: SourceBatch) -> dg.Output:
        frame = canonical_frame(raw_flights.flights)
        stored = store_snapshot(frame, snapshot_dir, context.partition_key)
        return dg.Output(
            Stamped(snapshot_id=stored.snapshot_id, source_rows=len(frame), frame=frame),
            metadata={ROW_COUNT_KEY: len(frame), SNAPSHOT_ID_KEY: stored.snapshot_id,
                      "source_uri": raw_flights.source_uri,
                      "dagster/column_schema": column_schema(frame)},
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        checks = [_plain_check(rule) for rule in FLIGHT_RULES]
    return [raw_flights_plain, flights_snapshot_plain, clean_flights, carrier_daily_stats,
            ontime_performance, delay_explanation, delay_simulation, *checks]


def _plain_check(rule: PanderaRule) -> dg.AssetChecksDefinition:
    import pandera.pandas as pa

    @dg.asset_check(asset=clean_flights, name=rule.rule_id, blocking=rule.severity == "FAIL",
                    partitions_def=flights_partitions)
    def _check(data: Stamped) -> dg.AssetCheckResult:
        try:
            rule.pandera_schema.validate(data.frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            failing = int(exc.failure_cases["index"].nunique())
            return dg.AssetCheckResult(
                passed=False, metadata={"failing_rows": failing},
                severity=(dg.AssetCheckSeverity.ERROR if rule.severity == "FAIL"
                          else dg.AssetCheckSeverity.WARN),
            )
        return dg.AssetCheckResult(passed=True, metadata={"failing_rows": 0})

    return _check


class PlainPipeline:
    """Materializes the plain pipeline one partition per run (or a list of them) on an instance."""

    def __init__(self, instance: dg.DagsterInstance, workdir: Path, io: str = "fs"):
        self.instance = instance
        self.assets = plain_assets(workdir / "snapshots")
        # "fs": Dagster's default IO manager (pickles on disk, as opsrel's versions are);
        # "mem": values kept in memory for the run only (the strictest baseline: no disk at all).
        io_manager = (dg.FilesystemIOManager(base_dir=str(workdir / "io")) if io == "fs"
                      else dg.InMemoryIOManager())
        self.resources = {"flights_source": FlightsSource(), "io_manager": io_manager}

    def run(self, key: str) -> dg.ExecuteInProcessResult:
        """One run of every asset and check for partition ``key``."""
        result = dg.materialize(
            self.assets, partition_key=key, instance=self.instance, resources=self.resources,
            run_config=QUIET_RUN_CONFIG, raise_on_error=False,
        )
        if not result.success:
            raise RuntimeError(f"plain pipeline failed on {key}")
        return result


def _keys(start: str, count: int) -> list[str]:
    first = dt.date.fromisoformat(start)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(count)]


def _opsrel_run(runner: HeadlessRunner,
                run_seconds: list[float] | None = None) -> Callable[[str], None]:
    # ``run_seconds`` collects the Dagster run's own wall time (without the projection after it).
    def run(key: str) -> None:
        [summary_] = runner.run_partitions([key])
        if summary_.status != "SUCCESS":
            raise RuntimeError(f"opsrel run of {key} ended {summary_.status}")
        if run_seconds is not None:
            run_seconds.append(summary_.seconds)
    return run


def b1_leg(backend: str, repeats: int) -> dict:
    """One partition with opsrel vs plain on one instance kind; returns the leg's figures."""
    with scratch_env(backend) as env, tempfile.TemporaryDirectory() as tmp:
        runner = HeadlessRunner.from_env()
        plain = PlainPipeline(runner.instance, Path(tmp))
        strict = PlainPipeline(runner.instance, Path(tmp), io="mem")
        run_seconds: list[float] = []
        ours = _opsrel_run(runner, run_seconds)
        # Warm-up (imports, package data and reference tables cached), not measured.
        ours("2013-03-31")
        plain.run("2013-03-31")
        keys = _keys("2013-04-01", repeats)
        times = alternate({"opsrel": lambda i: ours(keys[i]),
                           "plain_fs": lambda i: plain.run(keys[i]),
                           "plain_mem": lambda i: strict.run(keys[i])}, repeats)
        runner.engine.dispose()
        return {"backend": env.backend, "ratio": ratio(times["opsrel"], times["plain_fs"]),
                "ratio_vs_mem_io": ratio(times["opsrel"], times["plain_mem"]),
                "opsrel_run_only": summary(run_seconds[1:]),
                **{name: summary(samples) for name, samples in times.items()}}


def b1(repeats: int, backends: tuple[str, ...] = ("sqlite", "postgresql")) -> Figure:
    """B1: one partition with everything opsrel records vs plain Dagster, per instance kind.

    The figure is the worst leg's ratio of medians (target <= 1.10).
    """
    legs = {b: b1_leg(b, repeats) for b in backends}
    worst = max(legs.values(), key=lambda leg: leg["ratio"])
    return Figure(
        "B1", "one partition, everything opsrel records vs plain Dagster + same pandera checks",
        worst["ratio"], "ratio", "<=", 1.10, worst["opsrel"], worst["plain_fs"],
        sizes={"partitions_per_run": 1, "repeats": repeats, "backends": list(backends)},
        details={"legs": legs, "worst_leg": worst["backend"],
                 "baseline": "dagster.materialize of the same assets with Dagster's "
                             "FilesystemIOManager and the same pandera rules as plain asset "
                             "checks; ratio_vs_mem_io: against InMemoryIOManager (no disk)"},
    )


def b2(days: int, start: str = "2013-01-01", chunk: int = 10) -> Figure:
    """B2: replay ``days`` partitions from ``start`` through opsrel's replay path
    (``HeadlessRunner.run_replay``, kind ``range``: one run per partition) vs the same partitions
    with plain Dagster (one ``materialize`` per partition, FilesystemIOManager; and
    InMemoryIOManager as a stricter second baseline), on the embedded default (SQLite).

    The days are replayed in ranges of ``chunk`` days, alternating opsrel and the baselines
    range by range, so that drift of a shared machine hits all alike. The ratio is total over
    total. Secondary target: the opsrel replay of the whole year under 120 s (extrapolated from the
    measured time per partition when fewer days are run).
    """
    keys = _keys(start, days)
    ranges = [keys[i:i + chunk] for i in range(0, len(keys), chunk)]
    with scratch_env("sqlite"), tempfile.TemporaryDirectory() as tmp:
        runner = HeadlessRunner.from_env()
        plain = PlainPipeline(runner.instance, Path(tmp))
        strict = PlainPipeline(runner.instance, Path(tmp), io="mem")
        _opsrel_run(runner)("2013-12-31")  # warm-up
        plain.run("2013-12-31")
        ours_per: list[float] = []
        base_per: list[float] = []
        totals = {"opsrel": 0.0, "plain_fs": 0.0, "plain_mem": 0.0}

        def replay(part: list[str]) -> None:
            final, summaries = runner.run_replay(part, kind="range", operator_id="bench",
                                                 reason="benchmark B2 replay")
            if final.status != "SUCCESS":
                raise RuntimeError(f"B2 replay of {part[0]}..{part[-1]} ended {final.status}")
            ours_per.extend(s.seconds for s in summaries)

        def fs(part: list[str]) -> None:
            base_per.extend(timed(lambda k=k: plain.run(k))[0] for k in part)

        sides = {"opsrel": replay, "plain_fs": fs,
                 "plain_mem": lambda part: [strict.run(k) for k in part]}
        for i, part in enumerate(ranges):
            names = list(sides)
            for name in names[i % 3:] + names[:i % 3]:
                totals[name] += timed(lambda n=name: sides[n](part))[0]
        runner.engine.dispose()
    year_estimate = totals["opsrel"] / days * 365
    return Figure(
        "B2", f"replay of {days} partitions ({start}..{keys[-1]}) vs plain Dagster replay",
        totals["opsrel"] / totals["plain_fs"], "ratio", "<=", 1.10,
        summary(ours_per), summary(base_per),
        sizes={"partitions": days, "ranges": len(ranges), "runs_opsrel": len(ours_per),
               "runs_baseline": len(base_per)},
        details={"unit_of_samples": "seconds per partition run (opsrel: the Dagster run only)",
                 "opsrel_total_s": round(totals["opsrel"], 3),
                 "baseline_total_s": round(totals["plain_fs"], 3),
                 "baseline_mem_io_total_s": round(totals["plain_mem"], 3),
                 "ratio_vs_mem_io": round(totals["opsrel"] / totals["plain_mem"], 3),
                 "opsrel_year_estimate_s": round(year_estimate, 1),
                 "baseline_year_estimate_s": round(totals["plain_fs"] / days * 365, 1),
                 "single_run_ranges_used": False,
                 "note": "opsrel's replay path runs one Dagster run per partition "
                         "(HeadlessRunner.run_replay -> run_partitions); the flights assets below "
                         "the snapshot read one partition each, so BackfillPolicy.single_run is "
                         "not used for a replay of the pipeline"},
        extra_ok={"year_under_120s": year_estimate <= 120},
    )
