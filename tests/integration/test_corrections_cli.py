"""``opsrel versions restore`` and ``opsrel notes add|list``, with their exit statuses, both
backends."""

import json

from click.testing import CliRunner

from opsrel_core.entrypoints.cli import cli
from opsrel_core.services.audit_log import AuditLogService
from tests.support.restore_history import CLEAN, DAY, STATS, record_run


def test_cli_restores_a_version_and_versions_list_shows_it_active(database_url, monkeypatch,
                                                                     engine):
    monkeypatch.setenv("OPSREL_DATABASE_URL", database_url)
    record_run(engine, "run-1")
    record_run(engine, "run-2")
    record_run(engine, "run-3", outcome="FAILED")
    run = CliRunner().invoke
    done = run(cli, ["versions", "restore", CLEAN, DAY, "1", "--reason", "bad map",
                     "--operator", "kim"])
    assert done.exit_code == 0, done.output
    assert f"{CLEAN} {DAY} v1 restored (v2 now inactive)" in done.output
    assert f"stale: {STATS} {DAY} v2 was made from {CLEAN} v2" in done.output
    listed = run(cli, ["versions", "list", "--asset", CLEAN, "--partition", DAY, "--json"])
    assert {v["version_number"]: v["is_active"] for v in json.loads(listed.output)} == {
        3: False, 2: False, 1: True}
    table = run(cli, ["versions", "list", "--asset", CLEAN, "--partition", DAY]).output
    assert [line.split()[:2] for line in table.splitlines()[1:]] == [
        ["v3", "-"], ["v2", "-"], ["v1", "active"]]
    [record] = AuditLogService(engine).list_audit_logs(target_type="result_version")
    assert (record.operator_id, record.action, record.principal.startswith("os:")) == (
        "kim", "RESTORE_VERSION", True)
    again = run(cli, ["versions", "restore", CLEAN, DAY, "1", "--reason", "x", "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["already_active"] is True
    missing = run(cli, ["versions", "restore", CLEAN, DAY, "9", "--reason", "x"])
    assert missing.exit_code == 1 and "[BAT-010]" in missing.output
    failed = run(cli, ["versions", "restore", CLEAN, DAY, "3", "--reason", "x"])
    assert failed.exit_code == 2 and "[BAT-001]" in failed.output
    blank = run(cli, ["versions", "restore", CLEAN, DAY, "2", "--reason", " "])
    assert blank.exit_code == 2 and "[BAT-008]" in blank.output
    assert len(AuditLogService(engine).list_audit_logs(target_type="result_version")) == 1


def test_cli_adds_and_lists_notes(database_url, monkeypatch):
    monkeypatch.setenv("OPSREL_DATABASE_URL", database_url)
    run = CliRunner().invoke
    added = run(cli, ["notes", "add", "flights_daily", DAY, "file re-delivered", "--operator",
                      "kim", "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["operator_id"] == "kim"
    assert run(cli, ["notes", "add", "flights_daily", DAY, "replayed"]).exit_code == 0
    listed = json.loads(run(cli, ["notes", "list", "flights_daily", DAY, "--json"]).output)
    assert [n["body"] for n in listed] == ["replayed", "file re-delivered"]
    text = run(cli, ["notes", "list", "flights_daily", DAY]).output
    assert "file re-delivered" in text and "kim" in text
    unknown = run(cli, ["notes", "add", "nope", DAY, "x"])
    assert unknown.exit_code == 1 and "[BAT-011]" in unknown.output
    blank = run(cli, ["notes", "add", "flights_daily", DAY, "  "])
    assert blank.exit_code == 2 and "[BAT-008]" in blank.output
