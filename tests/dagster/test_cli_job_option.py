"""``--job`` on ``opsrel run`` and ``opsrel replay``: the job comes from the code location's
declarations (``definitions.JOBS``); an undeclared one is refused before anything runs."""

import json

import pytest
from click.testing import CliRunner

from opsrel_core.persistence.engine import make_engine
from opsrel_core.services.replays import ReplayService
from opsrel_dagster.app.cli import cli

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_an_undeclared_job_is_refused_and_nothing_is_recorded(opsrel_env):
    for args in (["run", "--from", "2013-01-02", "--to", "2013-01-02", "--job", "weather"],
                 ["replay", "single", "2013-01-02", "--job", "weather", "--reason", "r"],
                 ["replay", "range", "2013-01-02", "2013-01-03", "--job", "weather",
                  "--reason", "r"],
                 ["replay", "full", "--job", "weather", "--reason", "r"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert "no declared job 'weather'" in result.output
        assert "declares flights_daily" in result.output
    engine = make_engine(opsrel_env["OPSREL_DATABASE_URL"])
    try:
        assert ReplayService(engine).list_replays() == []
    finally:
        engine.dispose()


def test_the_declared_job_runs_and_replays_by_its_id(opsrel_env):
    ran = CliRunner().invoke(cli, ["run", "--from", "2013-01-02", "--to", "2013-01-02",
                                   "--job", "flights_daily", "--json"])
    assert ran.exit_code == 0, ran.output
    [summary] = json.loads(ran.output)
    assert (summary["partition_key"], summary["status"]) == ("2013-01-02", "SUCCESS")
    assert summary["summary_figure"] > 0  # the figure the declaration names (flights_total)
    replayed = CliRunner().invoke(cli, ["replay", "single", "2013-01-02", "--job",
                                        "flights_daily", "--reason", "by job id", "--json"])
    assert replayed.exit_code == 0, replayed.output
    shown = json.loads(replayed.output)
    assert shown["status"] == "SUCCESS"
    assert [p["partition_key"] for p in shown["partitions"]] == ["2013-01-02"]
