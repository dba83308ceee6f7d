"""README's "Add opsrel to your own code location": its snippet, written out as a module of a
fresh code location, runs through ``opsrel`` and records executions and result versions."""

import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsrel_dagster.app.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet() -> str:
    text = README.read_text()
    match = re.search(r"<!-- own-code-location -->\n```python\n(.*?)```\n<!-- /own-code-location -->",
                      text, re.S)
    assert match, "README lost its own-code-location snippet"
    return match.group(1)


@pytest.fixture
def own_location(tmp_path: Path, monkeypatch) -> Path:
    package = tmp_path / "code" / "my_location"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "definitions.py").write_text(_snippet())
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    for name in [m for m in sys.modules if m.split(".")[0] == "my_location"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("OPSREL_DEFINITIONS", "my_location.definitions")
    monkeypatch.setenv("OPSREL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPSREL_DATABASE_URL", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("OPSREL_DAGSTER_URL", raising=False)
    monkeypatch.delenv("OPSREL_LANDING_DIR", raising=False)
    return package


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_readme_snippet_is_a_code_location_opsrel_records(own_location):
    from my_location.definitions import defs  # type: ignore[import-not-found]

    sensors = {s.name for s in defs.sensors}
    assert {"opsrel_projection_sensor", "opsrel_replay_launch_sensor",
            "opsrel_run_failure_sensor"} <= sensors
    assert {"ops_db", "io_manager"} <= set(defs.resources)

    assert "orders_daily registered" in _invoke("db", "upgrade")
    summaries = json.loads(_invoke("run", "--job", "orders_daily", "--from", "2024-01-01",
                                   "--to", "2024-01-02", "--json"))
    assert [(s["partition_key"], s["status"]) for s in summaries] == [
        ("2024-01-01", "SUCCESS"), ("2024-01-02", "SUCCESS")]
    assert summaries[0]["rows"] == {"orders": 3, "revenue": 1}

    executions = json.loads(_invoke("executions", "list", "--json"))
    rows = executions["items"] if isinstance(executions, dict) else executions
    assert sorted((e["job_id"], e["partition_key"], e["status"]) for e in rows) == [
        ("orders_daily", "2024-01-01", "SUCCESS"), ("orders_daily", "2024-01-02", "SUCCESS")]

    replayed = json.loads(_invoke("replay", "single", "2024-01-01", "--job", "orders_daily",
                                  "--reason", "README walk-through", "--json"))
    assert replayed["status"] == "SUCCESS"
    versions = json.loads(_invoke("versions", "list", "--asset", "revenue", "--partition",
                                  "2024-01-01", "--json"))
    items = versions["items"] if isinstance(versions, dict) else versions
    assert [(v["version_number"], v["is_active"]) for v in sorted(items, key=lambda v: v["version_number"])] == [
        (1, False), (2, True)]


def _console_script(args: list[str], cwd: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    import os
    import subprocess

    script = Path(sys.executable).parent / "opsrel"
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OPSREL_", "DAGSTER_")) and k != "PYTHONPATH"}
    return subprocess.run([str(script), *args], cwd=cwd, env={**clean, **env},
                          capture_output=True, text=True, timeout=300)


def test_the_console_script_finds_the_code_location_in_the_working_folder(tmp_path: Path):
    # README's shell steps: a folder my_location/ with the snippet (no __init__.py, no install,
    # no PYTHONPATH), then `opsrel db upgrade` from the folder that holds it.
    code = tmp_path / "code"
    (code / "my_location").mkdir(parents=True)
    (code / "my_location" / "definitions.py").write_text(_snippet())
    env = {"OPSREL_DEFINITIONS": "my_location.definitions", "OPSREL_HOME": str(tmp_path / "home"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    done = _console_script(["db", "upgrade"], code, env)
    assert done.returncode == 0, done.stderr
    assert "batch-job catalog: orders_daily registered (orders_daily)" in done.stdout

    # A code location that cannot be imported: one line naming it and what to do, exit 1.
    missing = _console_script(["db", "upgrade"], code, {**env, "OPSREL_DEFINITIONS": "no_such.place"})
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert missing.stderr.strip().splitlines()[-1].startswith(
        "Error: the ops schema is upgraded, but the declared jobs were not registered: "
        "OPSREL_DEFINITIONS=no_such.place: the module cannot be imported")
    assert "PYTHONPATH" in missing.stderr
