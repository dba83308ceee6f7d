"""AGGREGATION and RESULT: per-carrier daily statistics and on-time performance.

Framework-free: pandas only.
"""

import pandas as pd

from opsrel_core.domain.error_codes import LOG_INCONSISTENT_TOTALS
from opsrel_core.errors import LogicException

STATS_COLUMNS: tuple[str, ...] = (
    "carrier", "origin", "flights", "cancelled", "on_time", "on_time_rate",
    "dep_delay_mean", "dep_delay_p90", "arr_delay_mean", "arr_delay_p90",
)
PERFORMANCE_COLUMNS: tuple[str, ...] = (
    "carrier", "flights", "cancelled", "on_time", "on_time_rate", "cancellation_rate",
)


def carrier_daily_stats(clean: pd.DataFrame) -> pd.DataFrame:
    """Aggregate a day's clean flights per carrier and origin airport.

    Args:
        clean: output of ``transform.clean_flights`` (``carrier``, ``origin``, bool
            ``cancelled``/``on_time``, float ``dep_delay``/``arr_delay`` in minutes).

    Returns:
        One row per (carrier, origin) present that day, sorted by both, with ``STATS_COLUMNS``:
        ``flights``, ``cancelled`` and ``on_time`` counts (``int64``); ``on_time_rate`` =
        on_time / flights (cancelled flights count as not on time); mean and 90th percentile of
        ``dep_delay`` and ``arr_delay`` in minutes over flights where measured (NaN when none was).
    """
    grouped = clean.groupby(["carrier", "origin"], sort=True)
    stats = grouped.agg(
        flights=("carrier", "size"),
        cancelled=("cancelled", "sum"),
        on_time=("on_time", "sum"),
        dep_delay_mean=("dep_delay", "mean"),
        arr_delay_mean=("arr_delay", "mean"),
    )
    p90 = grouped[["dep_delay", "arr_delay"]].quantile(0.9)
    stats["dep_delay_p90"] = p90["dep_delay"]
    stats["arr_delay_p90"] = p90["arr_delay"]
    stats = stats.reset_index()
    for col in ("flights", "cancelled", "on_time"):
        stats[col] = stats[col].astype("int64")
    stats["on_time_rate"] = stats["on_time"] / stats["flights"]
    return stats.loc[:, list(STATS_COLUMNS)]


def ontime_performance(stats: pd.DataFrame, source_rows: int) -> pd.DataFrame:
    """Roll the per-origin statistics up to one on-time performance row per carrier.

    Args:
        stats: output of ``carrier_daily_stats``.
        source_rows: row count of the day's snapshot; the flights must add up to it.

    Returns:
        One row per carrier, sorted, with ``PERFORMANCE_COLUMNS``: ``flights``, ``cancelled``,
        ``on_time`` counts and the rates ``on_time_rate`` = on_time / flights and
        ``cancellation_rate`` = cancelled / flights (0..1).

    Raises:
        LogicException: ``LOG-003`` when the carriers' flights do not sum to ``source_rows``
            (a flight was lost or counted twice on the way).
    """
    perf = stats.groupby("carrier", sort=True)[["flights", "cancelled", "on_time"]].sum()
    perf = perf.reset_index()
    total = int(perf["flights"].sum())
    if total != source_rows:
        raise LogicException(
            LOG_INCONSISTENT_TOTALS,
            f"ontime_performance counts {total} flights but the snapshot has {source_rows} rows",
            {"result_flights": total, "source_rows": source_rows},
        )
    perf["on_time_rate"] = perf["on_time"] / perf["flights"]
    perf["cancellation_rate"] = perf["cancelled"] / perf["flights"]
    return perf.loc[:, list(PERFORMANCE_COLUMNS)]
