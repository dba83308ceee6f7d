"""The ``opsrel`` CLI with its ops database down: SYS-002 in one line on stderr, exit status 3
(README: "3 a system that did not answer"), never a traceback; for the core commands and for
the ones that drive Dagster, with a PostgreSQL URL at a closed port and with a private
PostgreSQL stopped under a migrated ops schema.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsrel_core.persistence import migrate
from opsrel_dagster.app.cli import cli
from tests.support.private_pg import private_pg  # noqa: F401 - the private cluster fixture
from tests.support.receivers import free_port

REPO = Path(__file__).resolve().parents[2]
COMMANDS = [
    ["db", "upgrade"], ["db", "current"], ["executions", "list"], ["executions", "show", "x"],
    ["tokens", "list"],
    ["tokens", "create", "--operator", "kim", "--role", "viewer", "--reason", "r"],
    ["audit", "list"], ["replay", "list"], ["replay", "status", "1"], ["alerts", "list"],
    ["alerts", "ack", "1", "--reason", "seen"], ["versions", "list", "--asset", "a",
                                                 "--partition", "2013-01-01"],
    ["sync"], ["run", "--from", "2013-01-01", "--to", "2013-01-01"],
]


def _assert_one_line_sys_002(stderr: str, stdout: str) -> None:
    assert "Traceback" not in stderr and "Traceback" not in stdout
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("[SYS-002] the ops database cannot be reached ("), lines[0]
    assert "OPSREL_DATABASE_URL" in lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_closed_port_is_sys_002_exit_3_in_one_line(tmp_path, args):
    env = {"OPSREL_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/opsrel",
           "OPSREL_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    (tmp_path / "dagster_home").mkdir()
    result = CliRunner(env=env).invoke(cli, args)
    assert result.exit_code == 3, (result.output, result.exception)
    _assert_one_line_sys_002(result.stderr, result.stdout)
    assert result.stdout == ""


def test_a_stopped_database_is_sys_002_exit_3_without_a_traceback(private_pg, tmp_path):  # noqa: F811
    """The console script itself, in its own process: what an operator's shell shows."""
    migrate.upgrade(private_pg.url)
    private_pg.stop()
    env = {**os.environ, "OPSREL_DATABASE_URL": private_pg.url, "OPSREL_HOME": str(tmp_path),
           "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", "from opsrel_dagster.app.cli import main; main()", "executions", "list"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 3, (done.stdout, done.stderr)
    _assert_one_line_sys_002(done.stderr, done.stdout)
    assert done.stdout == ""
