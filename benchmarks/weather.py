"""B9: a month of hourly weather partitions replayed in single-run ranges, opsrel vs plain Dagster.

The second example job (``weather_hourly``: hourly partitions in ``America/New_York``) shows what
opsrel costs on a job cut finer than a day. opsrel's side is ``HeadlessRunner.run_replay`` (kind
``range``) in single-run ranges of one local day's hours; the baseline is plain Dagster running
the same ranges with the same asset code (``clean_weather`` .. ``flight_category`` touch no ops
database; ``raw_weather`` and ``weather_snapshot`` have plain twins doing the same pandas work
and the same snapshot file), each weather rule as a plain pandera asset check, and plain pickles
(``pipeline.RangePickleIOManager``). The two sides alternate range by range.
"""

import tempfile
from pathlib import Path
from typing import Any

import dagster as dg

from benchmarks.common import Figure, scratch_env, summary, timed
from benchmarks.pipeline import RangePickleIOManager, _plain_check
from opsrel_dagster.defs.flights.common import by_partition, per_partition_output
from opsrel_dagster.defs.flights.package_data import WEATHER_COLUMNS
from opsrel_dagster.defs.flights.snapshot_store import Stamped, canonical_frame, store_snapshot
from opsrel_dagster.defs.weather import (
    WEATHER_JOB_ID, WEATHER_RULES, WeatherSource, airport_hour_weather, clean_weather,
    flight_category, weather_partitions,
)
from opsrel_dagster.defs.weather.common import WEATHER_GROUP, hour_windows
from opsrel_dagster.app.runner import QUIET_RUN_CONFIG, HeadlessRunner

MONTH_START = "2013-11-01"  # November holds the fall-back day (25 local hours)


def plain_assets(snapshot_dir: Path) -> list:
    """The weather assets and checks without opsrel (see the module docstring)."""
    policy = dg.BackfillPolicy.single_run()

    @dg.asset(name="raw_weather", group_name=WEATHER_GROUP, partitions_def=weather_partitions,
              backfill_policy=policy, code_version="1")
    def raw_weather_plain(context: dg.AssetExecutionContext,
                          weather_source: WeatherSource) -> dg.Output:
        batches = {key: weather_source.load_hour(window)
                   for key, window in hour_windows(context).items()}
        return dg.Output(per_partition_output(context, batches))

    @dg.asset(name="weather_snapshot", group_name=WEATHER_GROUP,
              partitions_def=weather_partitions, backfill_policy=policy, code_version="1")
    def weather_snapshot_plain(context: dg.AssetExecutionContext, raw_weather: Any) -> dg.Output:
        stamped = {}
        for key, batch in by_partition(context, raw_weather).items():
            frame = canonical_frame(batch.frame, WEATHER_COLUMNS)
            stored = store_snapshot(frame, snapshot_dir, key, WEATHER_COLUMNS)
            stamped[key] = Stamped(snapshot_id=stored.snapshot_id, source_rows=len(frame),
                                   frame=frame)
        return dg.Output(per_partition_output(context, stamped))

    checks = [_plain_check(rule, clean_weather, weather_partitions) for rule in WEATHER_RULES]
    return [raw_weather_plain, weather_snapshot_plain, clean_weather, airport_hour_weather,
            flight_category, *checks]


def b9(days: int, start: str = MONTH_START) -> Figure:
    """B9: ``days`` local days of hours from ``start``, each day one single-run range."""
    with scratch_env("sqlite"), tempfile.TemporaryDirectory() as tmp:
        runner = HeadlessRunner.from_env(WEATHER_JOB_ID)
        first = runner.job.keys_between(start, start)[0]
        position = runner.job.position_of(first) or 0
        keys = runner.job.partition_keys()
        ranges, at = [], position
        for _day in range(days):
            day = keys[at][:10]
            hours = runner.job.keys_between(day, day)
            ranges.append(hours)
            at += len(hours)
        plain_defs = plain_assets(Path(tmp) / "snapshots")
        resources = {"weather_source": WeatherSource(),
                     "io_manager": RangePickleIOManager(base_dir=str(Path(tmp) / "io"))}

        def plain(part: list[str]) -> None:
            result = dg.materialize(
                plain_defs, instance=runner.instance, resources=resources,
                tags={"dagster/asset_partition_range_start": part[0],
                      "dagster/asset_partition_range_end": part[-1]},
                run_config=QUIET_RUN_CONFIG, raise_on_error=False)
            if not result.success:
                raise RuntimeError(f"plain weather failed on {part[0]}..{part[-1]}")

        def replay(part: list[str]) -> None:
            final, summaries = runner.run_replay(part, kind="range", operator_id="bench",
                                                 reason="benchmark B9 replay",
                                                 range_size=len(part))
            if final.status != "SUCCESS" or len(summaries) != len(part):
                raise RuntimeError(f"B9 replay of {part[0]}..{part[-1]} ended {final.status}")

        warm = runner.job.keys_between("2013-10-31", "2013-10-31")
        replay(warm)
        plain(warm)
        seconds: dict[str, list[float]] = {"opsrel": [], "plain": []}
        sides = {"opsrel": replay, "plain": plain}
        for i, part in enumerate(ranges):
            names = list(sides) if i % 2 == 0 else list(reversed(sides))
            for name in names:
                seconds[name].append(timed(lambda n=name: sides[n](part))[0])
        runner.engine.dispose()
    total = {name: sum(values) for name, values in seconds.items()}
    hours = sum(len(r) for r in ranges)
    return Figure(
        "B9", f"replay of {hours} hourly weather partitions ({ranges[0][0]}..{ranges[-1][-1]}) "
              "in single-run ranges of a local day vs plain Dagster running the same ranges",
        total["opsrel"] / total["plain"], "ratio", "<=", 1.15,
        summary(seconds["opsrel"]), summary(seconds["plain"]),
        sizes={"partitions": hours, "ranges": len(ranges), "days": days},
        details={"unit_of_samples": "seconds per range run (opsrel: the replay, the run and "
                                    "its projection)",
                 "opsrel_total_s": round(total["opsrel"], 3),
                 "plain_total_s": round(total["plain"], 3),
                 "hours_per_range": sorted({len(r) for r in ranges})},
    )
