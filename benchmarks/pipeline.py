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
import pickle
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
    ROW_COUNT_KEY, SNAPSHOT_ID_KEY, by_partition, column_schema, flights_partitions,
    per_partition_output,
)
from opsrel_dagster.defs.flights.snapshot_store import canonical_frame, store_snapshot
from opsrel_dagster.app.runner import QUIET_RUN_CONFIG, HeadlessRunner


def plain_assets(snapshot_dir: Path) -> list:
    """The example pipeline's assets and checks without opsrel (see the module docstring)."""

    @dg.asset(name="raw_flights", group_name="flights", partitions_def=flights_partitions,
              backfill_policy=dg.BackfillPolicy.single_run(), code_version="1")
    def raw_flights_plain(context: dg.AssetExecutionContext,
                          flights_source: FlightsSource) -> dg.Output:
        batches = {key: flights_source.load_day(dt.date.fromisoformat(key))
                   for key in context.partition_keys}
        first = next(iter(batches.values()))
        return dg.Output(per_partition_output(context, batches), metadata={
            ROW_COUNT_KEY: sum(len(b.flights) for b in batches.values()),
            **({"source_uri": first.source_uri} if len(batches) == 1 else {}),
            "dagster/column_schema": column_schema(first.flights),
        })

    @dg.asset(name="flights_snapshot", group_name="flights", partitions_def=flights_partitions,
              backfill_policy=dg.BackfillPolicy.single_run(), code_version="1")
    def flights_snapshot_plain(context: dg.AssetExecutionContext, raw_flights) -> dg.Output:
        stamped, uris = {}, {}
        for key, batch in by_partition(context, raw_flights).items():
            frame = canonical_frame(batch.flights)
            stored = store_snapshot(frame, snapshot_dir, key)
            stamped[key] = Stamped(snapshot_id=stored.snapshot_id, source_rows=len(frame),
                                   frame=frame)
            uris[key] = batch.source_uri
        first = next(iter(stamped))
        single = ({SNAPSHOT_ID_KEY: stamped[first].snapshot_id, "source_uri": uris[first]}
                  if len(stamped) == 1 else {})
        return dg.Output(
            per_partition_output(context, stamped),
            metadata={ROW_COUNT_KEY: sum(len(s.frame) for s in stamped.values()), **single,
                      "dagster/column_schema": column_schema(stamped[first].frame)},
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        checks = [_plain_check(rule) for rule in FLIGHT_RULES]
    return [raw_flights_plain, flights_snapshot_plain, clean_flights, carrier_daily_stats,
            ontime_performance, delay_explanation, delay_simulation, *checks]


def _plain_check(rule: PanderaRule, asset=clean_flights,  # type: ignore[no-untyped-def]
                 partitions_def: dg.PartitionsDefinition = flights_partitions,
                 ) -> dg.AssetChecksDefinition:
    """A pandera rule as a plain asset check of ``asset``: validated per partition with
    ``lazy=True``, blocking for FAIL rules, no ops records."""
    import pandera.pandas as pa

    @dg.asset_check(asset=asset, name=rule.rule_id, blocking=rule.severity == "FAIL",
                    partitions_def=partitions_def)
    def _check(context: dg.AssetCheckExecutionContext, data) -> dg.AssetCheckResult:
        # each day of a range run on its own, as opsrel's check does
        failing, failed = 0, False
        for day in by_partition(context, data).values():
            try:
                rule.pandera_schema.validate(day.frame, lazy=True)
            except pa.errors.SchemaErrors as exc:
                failing += int(exc.failure_cases["index"].nunique())
                failed = True
        if failed:
            return dg.AssetCheckResult(
                passed=False, metadata={"failing_rows": failing},
                severity=(dg.AssetCheckSeverity.ERROR if rule.severity == "FAIL"
                          else dg.AssetCheckSeverity.WARN),
            )
        return dg.AssetCheckResult(passed=True, metadata={"failing_rows": 0})

    return _check


class RangePickleIOManager(dg.ConfigurableIOManager):
    """Plain pickles, one file per asset partition, no ops records: what plain Dagster needs to
    run a range in one run (its ``FilesystemIOManager`` stores one partition per output).

    Attributes:
        base_dir: the folder of the files.
    """

    base_dir: str

    def _path(self, context: dg.OutputContext | dg.InputContext, key: str) -> Path:
        return Path(self.base_dir, *context.asset_key.path, key)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        """Pickle the value of each partition (``obj``: one value, or ``{partition_key: value}``
        in a range run)."""
        values = {context.partition_key: obj} if context.has_partition_key else obj
        for key, value in values.items():
            path = self._path(context, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def load_input(self, context: dg.InputContext):
        """One partition's value, or ``{partition_key: value}`` over several."""
        keys = context.asset_partition_keys
        values = {key: pickle.loads(self._path(context, key).read_bytes()) for key in keys}
        return values if len(keys) > 1 else values[keys[0]]


class PlainPipeline:
    """Materializes the plain pipeline one partition per run (or a list of them) on an instance."""

    def __init__(self, instance: dg.DagsterInstance, workdir: Path, io: str = "fs"):
        self.instance = instance
        self.assets = plain_assets(workdir / "snapshots")
        # "fs": Dagster's default IO manager (pickles on disk, as opsrel's versions are);
        # "mem": values kept in memory for the run only (the strictest baseline: no disk at all).
        # "range": plain pickles per partition that also store a range run's mapping (B2).
        io_manager = (dg.FilesystemIOManager(base_dir=str(workdir / "io")) if io == "fs"
                      else RangePickleIOManager(base_dir=str(workdir / "range_io"))
                      if io == "range" else dg.InMemoryIOManager())
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

    def run_range(self, keys: list[str]) -> dg.ExecuteInProcessResult:
        """One run of every asset and check over the consecutive days ``keys`` (single-run
        range: Dagster's range tags, as a single-run backfill launches it)."""
        result = dg.materialize(
            self.assets, instance=self.instance, resources=self.resources,
            tags={"dagster/asset_partition_range_start": keys[0],
                  "dagster/asset_partition_range_end": keys[-1]},
            run_config=QUIET_RUN_CONFIG, raise_on_error=False,
        )
        if not result.success:
            raise RuntimeError(f"plain pipeline failed on {keys[0]}..{keys[-1]}")
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


def b2(days: int, start: str = "2013-01-01", chunk: int = 30) -> Figure:
    """B2: replay ``days`` partitions from ``start`` through opsrel's replay path
    (``HeadlessRunner.run_replay``, kind ``range``, each range of ``chunk`` days one Dagster run:
    every flights asset has the single-run backfill policy) vs the same partitions in plain
    Dagster: one ``materialize`` per partition with ``FilesystemIOManager`` (the figure's
    baseline: plain Dagster's IO manager cannot store a range), and the like-for-like second
    baseline, plain Dagster running the same single-run ranges with plain pickles
    (``RangePickleIOManager``), on the embedded default (SQLite). The figure is the like-for-like
    ratio (opsrel over plain single-run ranges, target 1.15); the one-run-a-day ratio is in the
    details.

    The three sides alternate range by range (rotating which goes first), so that drift of a
    shared machine hits all alike. Ratios are total over total. Secondary target: the opsrel
    replay of the whole year under 90 s (extrapolated from the measured time per partition
    when fewer days are run; ranges of ``chunk`` days, so the year has 365 / chunk runs).
    """
    keys = _keys(start, days)
    ranges = [keys[i:i + chunk] for i in range(0, len(keys), chunk)]
    with scratch_env("sqlite"), tempfile.TemporaryDirectory() as tmp:
        runner = HeadlessRunner.from_env()
        plain = PlainPipeline(runner.instance, Path(tmp))
        ranged = PlainPipeline(runner.instance, Path(tmp), io="range")
        _opsrel_run(runner)("2013-12-31")  # warm-up
        plain.run("2013-12-31")
        ranged.run_range(["2013-12-30", "2013-12-31"])
        base_per: list[float] = []
        totals = {"opsrel": 0.0, "plain_fs": 0.0, "plain_range": 0.0}

        def replay(part: list[str]) -> None:
            final, summaries = runner.run_replay(part, kind="range", operator_id="bench",
                                                 reason="benchmark B2 replay",
                                                 range_size=len(part))
            if final.status != "SUCCESS" or len(summaries) != len(part):
                raise RuntimeError(f"B2 replay of {part[0]}..{part[-1]} ended {final.status}")

        def fs(part: list[str]) -> None:
            base_per.extend(timed(lambda k=k: plain.run(k))[0] for k in part)

        sides = {"opsrel": replay, "plain_fs": fs, "plain_range": ranged.run_range}
        range_seconds: dict[str, list[float]] = {"opsrel": [], "plain_range": []}
        for i, part in enumerate(ranges):
            names = list(sides)
            for name in names[i % 3:] + names[:i % 3]:
                seconds = timed(lambda n=name: sides[n](part))[0]
                totals[name] += seconds
                if name in range_seconds:
                    range_seconds[name].append(seconds)
        runner.engine.dispose()
    year_estimate = totals["opsrel"] / days * 365
    return Figure(
        "B2", f"replay of {days} partitions ({start}..{keys[-1]}) in single-run ranges of {chunk} "
              "days vs plain Dagster running the same single-run ranges (same asset code and "
              "pandera checks)",
        totals["opsrel"] / totals["plain_range"], "ratio", "<=", 1.15,
        summary(range_seconds["opsrel"]), summary(range_seconds["plain_range"]),
        sizes={"partitions": days, "ranges": len(ranges), "range_days": chunk,
               "runs_opsrel": len(ranges), "runs_baseline": len(base_per)},
        details={"unit_of_samples": "opsrel and baseline: seconds per range run (opsrel: the "
                                    "replay, the run and its projection)",
                 "ratio_vs_plain_one_run_a_day": round(totals["opsrel"] / totals["plain_fs"], 3),
                 "plain_one_run_a_day": summary(base_per),
                 "opsrel_total_s": round(totals["opsrel"], 3),
                 "baseline_total_s": round(totals["plain_fs"], 3),
                 "plain_single_run_total_s": round(totals["plain_range"], 3),
                 "plain_single_run_ranges": summary(range_seconds["plain_range"]),
                 "ratio_vs_plain_single_run": round(totals["opsrel"] / totals["plain_range"], 3),
                 "opsrel_year_estimate_s": round(year_estimate, 1),
                 "baseline_year_estimate_s": round(totals["plain_fs"] / days * 365, 1),
                 "plain_single_run_year_estimate_s": round(totals["plain_range"] / days * 365, 1),
                 "single_run_ranges_used": True},
        extra_ok={"year_under_90s": year_estimate <= 90},
    )
