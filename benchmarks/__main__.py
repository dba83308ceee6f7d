"""``python -m benchmarks``: opsrel's cost against plain Dagster and the plain database.

Usage::

    .venv/bin/python -m benchmarks            # full sizes (see FULL); tens of minutes
    .venv/bin/python -m benchmarks --quick    # small sizes, a few minutes; CI runs it
    .venv/bin/python -m benchmarks --json     # one JSON object keyed by figure id on stdout
    .venv/bin/python -m benchmarks --only B4,B6 --b4-executions 200000

PostgreSQL legs create (and drop) scratch databases ``opsrel_bench_<hex>`` on the server of
``OPSREL_BENCH_PG_URL`` (default: ``OPSREL_TEST_PG_URL`` or postgres@127.0.0.1:5432).
Progress goes to stderr; the table (or the JSON) to stdout.
"""

import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings

FULL = {"repeats": 7, "b1_repeats": 7, "b2_days": 365, "b2_range_days": 30, "b3_runs": 10_000, "b4_executions": 1_000_000,
        "b4_samples": 200, "b5_days": None, "b6_days": 365, "b6_samples": 500, "b7_ops": 250,
        "b10_executions": 1_000_000, "b10_samples": 200, "b8_executions": 10_000, "b8_repeats": 7, "b9_days": 30}
QUICK = {"repeats": 3, "b1_repeats": 1, "b2_days": 3, "b2_range_days": 30, "b3_runs": 40, "b4_executions": 20_000, "b4_samples": 30,
         "b5_days": 31, "b6_days": 20, "b6_samples": 100, "b7_ops": 25,
         "b10_executions": 20_000, "b10_samples": 30, "b8_executions": 1_000, "b8_repeats": 1, "b9_days": 1}
FIGURES = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (CI)")
    p.add_argument("--json", action="store_true", help="print one JSON object keyed by figure id")
    p.add_argument("--only", default=",".join(FIGURES), help="comma-separated figure ids")
    p.add_argument("--repeats", type=int, help="repeats of the B5/B7 measurements")
    p.add_argument("--b1-repeats", type=int, help="runs per side and instance kind in B1")
    p.add_argument("--b2-days", type=int, help="partitions replayed in B2 (full: 365)")
    p.add_argument("--b2-range-days", type=int,
                   help="days per single-run range in B2, also the unit of alternation (default 30)")
    p.add_argument("--b3-runs", type=int, help="finished runs the projection catches up on (full: 10000)")
    p.add_argument("--b4-executions", type=int, help="executions listed in B4 (full: 1000000)")
    p.add_argument("--b6-days", type=int, help="partitions of lineage history in B6 (full: 365)")
    p.add_argument("--b7-ops", type=int, help="operations per writer in B7 (full: 250)")
    p.add_argument("--b8-executions", type=int,
                   help="executions in the embedded database the read commands list in B8 "
                        "(full: 10000)")
    p.add_argument("--b9-days", type=int,
                   help="local days of hourly weather replayed in B9, a range each (full: 30)")
    p.add_argument("--b10-executions", type=int,
                   help="executions in the ops schema scraped in B10 (full: 1000000)")
    return p


def machine() -> dict[str, object]:
    """Where the figures were measured: cores, RAM, Python, Dagster, pandera, PostgreSQL."""
    import dagster
    import pandera
    import sqlalchemy as sa

    from benchmarks.common import PG_ADMIN_URL

    engine = sa.create_engine(PG_ADMIN_URL, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        pg = conn.execute(sa.text("SHOW server_version")).scalar_one()
    engine.dispose()
    with open("/proc/meminfo") as f:
        ram_kib = int(f.readline().split()[1])
    return {"nproc": os.cpu_count(), "ram_gib": round(ram_kib / 1024 / 1024, 1),
            "python": platform.python_version(), "dagster": dagster.__version__,
            "pandera": pandera.__version__, "sqlalchemy": sa.__version__, "postgresql": pg,
            "platform": platform.platform()}


def run(selected: list[str], sizes: dict, log) -> dict:  # type: ignore[no-untyped-def]
    """Measure the selected figures; returns ``{figure id: Figure}``."""
    from benchmarks import (
        api, commands, lineage, metrics, pipeline, projection, validation, weather, writes,
    )

    jobs = {
        "B1": lambda: pipeline.b1(sizes["b1_repeats"]),
        "B2": lambda: pipeline.b2(sizes["b2_days"], chunk=sizes["b2_range_days"]),
        "B3": lambda: projection.b3(sizes["b3_runs"]),
        "B4": lambda: api.b4(sizes["b4_executions"], sizes["b4_samples"]),
        "B5": lambda: validation.b5(sizes["repeats"], sizes["b5_days"]),
        "B6": lambda: lineage.b6(sizes["b6_days"], 10, sizes["b6_samples"]),
        "B7": lambda: writes.b7(sizes["b7_ops"], sizes["repeats"]),
        "B8": lambda: commands.b8(sizes["b8_executions"], sizes["b8_repeats"]),
        "B9": lambda: weather.b9(sizes["b9_days"]),
        "B10": lambda: metrics.b10(sizes["b10_executions"], sizes["b10_samples"]),
    }
    figures = {}
    for fid in selected:
        began = time.perf_counter()
        log(f"{fid} ...")
        figures[fid] = jobs[fid]()
        figures[fid].details["wall_s"] = round(time.perf_counter() - began, 1)
        f = figures[fid]
        log(f"{fid} {f.value:.3f} {f.unit} (target {f.op} {f.target:g}) "
            f"{'met' if f.met else 'MISSED'} in {f.details['wall_s']} s")
    return figures


def table(figures: dict) -> str:
    """The figures as a plain-text table."""
    lines = [f"{'id':3} {'value':>10} {'unit':7} {'target':>9} {'met':5} "
             f"{'opsrel median':>14} {'baseline median':>16}  title"]
    for fid, f in figures.items():
        base = f.baseline["median"] if f.baseline else None
        lines.append(
            f"{fid:3} {f.value:>10.3f} {f.unit:7} {f.op + ' ' + format(f.target, 'g'):>9} "
            f"{'yes' if f.met else 'NO':5} {f.subject['median']:>14.4f} "
            f"{'-' if base is None else format(base, '.4f'):>16}  {f.title}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (0 even when targets are missed)."""
    args = _parser().parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    for name in ("repeats", "b1_repeats", "b2_days", "b2_range_days", "b3_runs", "b4_executions", "b6_days", "b7_ops",
                 "b8_executions", "b9_days", "b10_executions"):
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
    selected = [f.strip().upper() for f in args.only.split(",") if f.strip()]
    unknown = sorted(set(selected) - set(FIGURES))
    if unknown:
        print(f"unknown figure ids {unknown}; choose from {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.ERROR)
    began = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:7.1f}s] {message}", file=sys.stderr, flush=True)

    figures = run(selected, sizes, log)
    if args.json:
        out = {fid: f.as_json() for fid, f in figures.items()}
        out["_meta"] = {"quick": args.quick, "sizes": sizes, "machine": machine(),
                        "wall_s": round(time.perf_counter() - began, 1)}
        print(json.dumps(out, indent=1, default=str))
    else:
        print(table(figures))
        print(f"\n{'quick' if args.quick else 'full'} run, {time.perf_counter() - began:.0f} s; "
              f"machine: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
