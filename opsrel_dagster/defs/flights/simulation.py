"""RESULT: a seeded Monte-Carlo estimate of the next day's departure delays per carrier.

For each carrier, ``n_draws`` departure delays are drawn with replacement from that day's
observed delays (a bootstrap of the empirical distribution). The random generator of each
carrier is seeded from a SHA-256 of the partition key, the carrier and the parameters, so the
same partition and parameters always give identical numbers, and adding a carrier does not
change the others. Framework-free: numpy and pandas only.
"""

import hashlib

import numpy as np
import pandas as pd

SIMULATION_COLUMNS: tuple[str, ...] = (
    "carrier", "observed", "n_draws", "seed", "sim_dep_delay_mean", "sim_dep_delay_p50",
    "sim_dep_delay_p90",
)


def simulation_seed(partition_key: str, carrier: str, *, n_draws: int, salt: int = 0) -> int:
    """Derive a 64-bit seed from the partition, carrier and parameters.

    Args:
        partition_key: e.g. ``"2013-01-01"``.
        carrier: two-letter carrier code.
        n_draws: number of draws (part of the parameters, so a change gives new draws).
        salt: an extra operator-chosen integer to get an independent replicate.

    Returns:
        An integer in ``[0, 2**64)``, stable across processes and platforms.
    """
    text = f"delay_simulation|v1|{partition_key}|{carrier}|n_draws={n_draws}|salt={salt}"
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def delay_simulation(
    clean: pd.DataFrame, partition_key: str, *, n_draws: int = 1000, salt: int = 0
) -> pd.DataFrame:
    """Bootstrap the next day's departure delay distribution per carrier.

    Args:
        clean: output of ``transform.clean_flights`` (``carrier``, ``cancelled``, ``dep_delay``
            in minutes).
        partition_key: the day the delays were observed, part of the seed.
        n_draws: draws per carrier, >= 1.
        salt: extra seed input (see ``simulation_seed``).

    Returns:
        One row per carrier of the day, sorted, with ``SIMULATION_COLUMNS``: ``observed``
        (departed flights resampled), ``n_draws``, the ``seed`` used (as text: it may exceed
        int64), and the mean, median and 90th percentile of the simulated delays in minutes
        (NaN when the carrier had no departed flight).

    Raises:
        ValueError: ``n_draws`` < 1.
    """
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    departed = clean.loc[~clean["cancelled"] & clean["dep_delay"].notna()]
    rows = []
    for carrier in sorted(clean["carrier"].unique()):
        observed = departed.loc[departed["carrier"] == carrier, "dep_delay"].to_numpy("float64")
        seed = simulation_seed(partition_key, carrier, n_draws=n_draws, salt=salt)
        if observed.size == 0:
            mean = p50 = p90 = float("nan")
        else:
            draws = np.random.default_rng(seed).choice(observed, size=n_draws, replace=True)
            mean = float(draws.mean())
            p50, p90 = (float(q) for q in np.quantile(draws, [0.5, 0.9]))
        rows.append((carrier, int(observed.size), n_draws, str(seed), mean, p50, p90))
    return pd.DataFrame(rows, columns=list(SIMULATION_COLUMNS))
