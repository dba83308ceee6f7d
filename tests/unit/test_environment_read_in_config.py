"""Only ``opsrel_core.config`` reads the process environment: every other module of the core,
the Dagster library, the application and the domains takes its settings from there."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READS = re.compile(r"\bos\.environ\b|\bgetenv\(|\bos\.putenv\(")


def test_no_module_outside_the_config_package_reads_the_environment():
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for package in ("opsrel_core", "opsrel_dagster")
        for path in sorted((REPO / package).rglob("*.py"))
        if (REPO / "opsrel_core" / "config") not in path.parents
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if READS.search(line)
    ]
    assert found == []
