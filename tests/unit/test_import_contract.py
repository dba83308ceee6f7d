"""The layering contracts of ``pyproject.toml`` (``lint-imports``, run by ``make test``): they hold
on the repository, and each one breaks when a forbidden import is added to a copy of it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)


def test_the_repository_keeps_every_contract():
    shown = _lint(REPO)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "Contracts: 4 kept, 0 broken." in shown.stdout


def test_each_contract_breaks_on_a_forbidden_import(tmp_path):
    for package in ("opsrel_core", "opsrel_dagster"):
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.png", "*.csv.gz"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    added = {
        # the core would need Dagster to run
        "opsrel_core/domain/console_links.py": "import dagster  # noqa\n",
        # the library would depend on the example domain
        "opsrel_dagster/projection.py": "from opsrel_dagster.defs.flights import FLIGHT_ASSETS  # noqa\n",
        # the application would read another domain name directly
        "opsrel_dagster/app/cli/replay.py": "from opsrel_dagster.defs.flights.rules import FLIGHT_RULES  # noqa\n",
        # a console page would read a table without a service
        "opsrel_core/entrypoints/console/routes_inbox.py":
            "from opsrel_core.persistence.tables import Alert  # noqa\n",
    }
    for path, line in added.items():
        target = tmp_path / path
        target.write_text(target.read_text() + line)
    shown = _lint(tmp_path)
    assert shown.returncode == 1, shown.stdout
    assert "Contracts: 0 kept, 4 broken." in shown.stdout
    report = " ".join(shown.stdout.split())
    for broken in ("opsrel_core.domain.console_links -> dagster",
                   "opsrel_dagster.projection -> opsrel_dagster.defs.flights",
                   "opsrel_dagster.app.cli.replay -> opsrel_dagster.defs.flights.rules",
                   "opsrel_core.entrypoints.console.routes_inbox -> "
                   "opsrel_core.persistence.tables"):
        assert broken in report, (broken, shown.stdout)
