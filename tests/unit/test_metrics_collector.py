"""The metrics collector over a reader that returns a fixed snapshot: every family of
``FAMILIES`` served, the zero series of each job and bounded status, the cached read served
until it is stale, and the settings' bounds. No database: the reader is a stand-in."""

import datetime as dt

import pytest

from opsrel_core.services.metrics import (
    FAMILIES, MetricsSettings, OpsMetricsCollector, OpsMetricsSnapshot,
)

T0 = dt.datetime(2024, 3, 1, 10, 0, tzinfo=dt.timezone.utc)


def _snapshot() -> OpsMetricsSnapshot:
    return OpsMetricsSnapshot(
        taken_at=T0, read_seconds=0.01, jobs=("flights_daily",),
        executions_ended={("flights_daily", "FAILED", "BAT-002"): 2},
        executions_in_flight={("flights_daily", "RUNNING"): 1},
        partitions_without_active_version={"flights_daily": 3},
        partitions_latest_attempt_failed={"flights_daily": 1},
        alerts_open={("ERROR", "DQ-001"): 1}, alerts_acknowledged={}, alert_deliveries={},
        silences_active=0, projections=(), runs_set_aside=0,
        data_quality_results={("flights_daily", "r", "WARN"): 4}, replays={})


class Reader:
    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> OpsMetricsSnapshot:
        self.reads += 1
        return _snapshot()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _values(collector: OpsMetricsCollector) -> dict[tuple[str, tuple[str, ...]], float]:
    return {(s.name, tuple(s.labels.values())): s.value
            for family in collector.collect() for s in family.samples}


def test_every_family_is_served_with_its_zero_series():
    collector = OpsMetricsCollector(Reader(), cache_seconds=0)  # type: ignore[arg-type]
    families = {f.name for f in collector.collect()}
    # A counter family is named without its ``_total`` suffix.
    assert families == set(FAMILIES)
    values = _values(collector)
    assert values[("opsrel_executions_total", ("flights_daily", "FAILED", "BAT-002"))] == 2
    assert values[("opsrel_executions_total", ("flights_daily", "SUCCESS", ""))] == 0
    assert values[("opsrel_executions_in_flight", ("flights_daily", "READY"))] == 0
    assert values[("opsrel_partitions_without_active_version", ("flights_daily",))] == 3
    assert values[("opsrel_alert_deliveries", ("EMAIL", "PENDING"))] == 0
    assert values[("opsrel_data_quality_results", ("flights_daily", "r", "WARN"))] == 4
    assert values[("opsrel_replays", ("flights_daily", "RUNNING"))] == 0


def test_a_scrape_reads_only_when_the_cached_read_is_stale():
    reader, clock = Reader(), Clock()
    collector = OpsMetricsCollector(reader, cache_seconds=5, monotonic=clock)  # type: ignore[arg-type]
    collector._start_refresher = lambda: None  # type: ignore[method-assign]  # no thread here
    collector.snapshot()
    clock.now += 4
    collector.snapshot()
    assert reader.reads == 1
    clock.now += 2 * 5 + 5  # older than 2 * cache_seconds + 5: the background read failed
    collector.snapshot()
    assert reader.reads == 2


def test_the_settings_read_the_environment_within_bounds():
    assert MetricsSettings.from_env({}) == MetricsSettings(5.0, True)
    assert MetricsSettings.from_env({"OPSREL_METRICS_CACHE_SECONDS": "0",
                                     "OPSREL_METRICS_AUTH": "none"}) == MetricsSettings(0, False)
    for env in ({"OPSREL_METRICS_CACHE_SECONDS": "inf"}, {"OPSREL_METRICS_CACHE_SECONDS": "x"},
                {"OPSREL_METRICS_AUTH": "admin"}):
        with pytest.raises(ValueError, match="OPSREL_METRICS_"):
            MetricsSettings.from_env(env)
