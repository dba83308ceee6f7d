"""Shared machinery of the benchmarks: timing statistics, figures, scratch databases and homes.

A figure compares a subject (opsrel) with a baseline measured in the same process, alternating
the two over repeated runs so that drift of the machine hits both alike.
"""

import contextlib
import dataclasses
import math
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from opsrel_dagster.instance_config import dagster_postgres_yaml

PG_ADMIN_URL = os.environ.get(
    "OPSREL_BENCH_PG_URL",
    os.environ.get("OPSREL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
)
"""Server the PostgreSQL legs create their scratch databases on (``OPSREL_BENCH_PG_URL``)."""

DAGSTER_YAML = "telemetry:\n  enabled: false\n"

BENCH_APP_ROLE = os.environ.get("OPSREL_BENCH_APP_ROLE", "opsrel_bench_app")
"""The application role the PostgreSQL legs run opsrel as (least privilege, as deployed: it owns
nothing and may only read and append to the audit log); created on the server if missing."""


def summary(samples: list[float]) -> dict[str, float]:
    """Median, min, max, p99 and count of samples (seconds or any unit; rounded to 6 digits)."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, max(0, math.ceil(0.99 * len(ordered)) - 1))]
    return {
        "median": round(statistics.median(ordered), 6),
        "min": round(ordered[0], 6),
        "max": round(ordered[-1], 6),
        "p99": round(p99, 6),
        "n": len(ordered),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once; returns (wall seconds, its result)."""
    began = time.perf_counter()
    result = fn()
    return time.perf_counter() - began, result


def alternate(subjects: dict[str, Callable[[int], Any]], repeats: int) -> dict[str, list[float]]:
    """Time each of ``subjects`` (name -> ``fn(i)``) once per repeat ``i``, rotating their order
    every repeat so that drift of the machine hits all alike.

    Returns:
        Seconds per subject name, one sample per repeat.
    """
    names = list(subjects)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, _ = timed(lambda: subjects[name](i))
            samples[name].append(seconds)
    return samples


@dataclasses.dataclass
class Figure:
    """One benchmark figure.

    Attributes:
        fid: ``"B1"`` .. ``"B7"``.
        title: what is measured.
        value: the figure (a ratio, runs/s or milliseconds, see ``unit``).
        unit: ``"ratio"``, ``"runs/s"``, ``"ms"`` ...
        op, target: the target is ``value op target`` (``"<="`` or ``">="``).
        subject, baseline: timing summaries (``summary``) of opsrel and of the baseline, seconds
            unless ``details`` say otherwise; baseline None for an absolute figure.
        sizes: the data sizes measured.
        details: further measurements (legs, secondary targets, memory).
        extra_ok: secondary targets that must hold too for ``met`` (name -> held).
    """

    fid: str
    title: str
    value: float
    unit: str
    op: str
    target: float
    subject: dict[str, float] | None = None
    baseline: dict[str, float] | None = None
    sizes: dict[str, Any] = dataclasses.field(default_factory=dict)
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra_ok: dict[str, bool] = dataclasses.field(default_factory=dict)

    @property
    def met(self) -> bool:
        """Whether the target (and every secondary target) holds."""
        held = self.value <= self.target if self.op == "<=" else self.value >= self.target
        return held and all(self.extra_ok.values())

    def as_json(self) -> dict[str, Any]:
        """The figure as a JSON-ready dict (keys as in ``--json``)."""
        return {
            "title": self.title,
            "value": round(self.value, 4),
            "unit": self.unit,
            "target": self.target,
            "target_op": self.op,
            "met": self.met,
            "secondary_targets": self.extra_ok,
            "median": {"opsrel": self.subject and self.subject["median"],
                       "baseline": self.baseline and self.baseline["median"]},
            "min": {"opsrel": self.subject and self.subject["min"],
                    "baseline": self.baseline and self.baseline["min"]},
            "max": {"opsrel": self.subject and self.subject["max"],
                    "baseline": self.baseline and self.baseline["max"]},
            "opsrel": self.subject,
            "baseline": self.baseline,
            "sizes": self.sizes,
            "details": self.details,
        }


def ratio(subject: list[float], baseline: list[float]) -> float:
    """Median of the subject over median of the baseline."""
    return statistics.median(subject) / statistics.median(baseline)


@contextlib.contextmanager
def pg_database(prefix: str = "opsrel_bench") -> Iterator[str]:
    """A fresh PostgreSQL database ``<prefix>_<uuid>``, dropped on exit. Yields its URL."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def upgrade_and_register(url: str) -> None:
    """Migrate the ops schema at ``url`` and register the example code location's jobs, as
    ``opsrel db upgrade`` leaves a database (``registration.upgrade_and_register``)."""
    from opsrel_dagster.definitions import JOBS
    from opsrel_dagster.registration import upgrade_and_register as make_as_db_upgrade

    make_as_db_upgrade(url, JOBS.values())


def application_url(owner_url: str) -> str:
    """Migrate the ops schema of ``owner_url`` (as its owner, the migration role), grant
    ``BENCH_APP_ROLE`` the application's privileges (``opsrel db grant``; the role is created when
    missing), and return the same database's URL logging in as that role (password:
    ``OPSREL_BENCH_APP_PASSWORD``, none by default)."""
    from opsrel_core.persistence import roles

    upgrade_and_register(owner_url)
    engine = sa.create_engine(owner_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        roles.apply_grants(conn, BENCH_APP_ROLE, create_role=True)
    engine.dispose()
    return sa.engine.make_url(owner_url).set(
        username=BENCH_APP_ROLE, password=os.environ.get("OPSREL_BENCH_APP_PASSWORD")
    ).render_as_string(hide_password=False)


@dataclasses.dataclass
class Env:
    """A scratch opsrel environment: home folder, Dagster home and ops database URL (on
    PostgreSQL the application role's; ``owner_url`` is the migration role's)."""

    home: Path
    dagster_home: Path
    database_url: str
    backend: str
    owner_url: str = ""

    def variables(self) -> dict[str, str]:
        """The environment variables opsrel and Dagster read."""
        return {
            "OPSREL_HOME": str(self.home),
            "OPSREL_DATABASE_URL": self.database_url,
            "DAGSTER_HOME": str(self.dagster_home),
        }


@contextlib.contextmanager
def scratch_env(backend: str) -> Iterator[Env]:
    """A migrated ops database and a Dagster home on ``backend`` (``"sqlite"``: both SQLite
    files, the embedded default; ``"postgresql"``: both in one fresh PostgreSQL database, opsrel
    and Dagster logging in as ``BENCH_APP_ROLE``), set in ``os.environ`` while the context lasts."""
    with tempfile.TemporaryDirectory(prefix="opsrel-bench-") as tmp, contextlib.ExitStack() as stack:
        home = Path(tmp) / "home"
        dagster_home = home / "dagster_home"
        dagster_home.mkdir(parents=True)
        if backend == "sqlite":
            url = owner = f"sqlite:///{home / 'ops.db'}"
            (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML)
            upgrade_and_register(url)
        else:
            owner = stack.enter_context(pg_database())
            url = application_url(owner)
            engine = sa.create_engine(owner, poolclass=sa.pool.NullPool)
            with engine.begin() as conn:  # Dagster's storage: created by the application role
                conn.execute(sa.text(
                    f"CREATE SCHEMA IF NOT EXISTS dagster AUTHORIZATION {BENCH_APP_ROLE}"))
            engine.dispose()
            (dagster_home / "dagster.yaml").write_text(dagster_postgres_yaml(url))
        env = Env(home, dagster_home, url, backend, owner)
        saved = {k: os.environ.get(k) for k in env.variables()}
        os.environ.update(env.variables())
        try:
            yield env
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def rss_bytes() -> int:
    """Resident set size of this process now, bytes (from ``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples this process's RSS every ``interval`` seconds while the block runs.

    After the block: ``start`` (bytes before), ``peak`` (highest sample) and ``samples``.
    """

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()

    def __enter__(self) -> "PeakRss":
        self.start = rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(rss_bytes())
        self.peak = max(self.samples)
