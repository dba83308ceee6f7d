"""The benchmark suite's quick variant still runs and reports every figure.

Benchmarks are not tests: nothing here asserts a timing or whether a target was met; the test
only proves that ``python -m benchmarks --quick --json`` runs end to end against the real
Dagster instance and PostgreSQL, and reports each figure with a numeric value and target.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9")


def test_quick_benchmarks_report_every_figure():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout)
    assert set(FIGURES) <= set(report)
    for fid in FIGURES:
        figure = report[fid]
        assert isinstance(figure["value"], (int, float)) and math.isfinite(figure["value"]), fid
        assert isinstance(figure["target"], (int, float)) and figure["target"] > 0, fid
        assert figure["target_op"] in ("<=", ">="), fid
        assert isinstance(figure["met"], bool), fid
        assert isinstance(figure["median"]["opsrel"], (int, float)), fid
        assert figure["sizes"], fid
    # Figures with a baseline report its median too; B6 is absolute.
    for fid in ("B1", "B2", "B3", "B4", "B5", "B7", "B8", "B9"):
        assert isinstance(report[fid]["median"]["baseline"], (int, float)), fid
    assert report["B6"]["median"]["baseline"] is None
    assert report["_meta"]["quick"] is True
    assert report["_meta"]["machine"]["nproc"] >= 1
