"""The assembly binds the library's resources with ``dg.EnvVar`` for the variables the
environment sets, and leaves the others to the embedded defaults, which the resources resolve
exactly as ``OpsSettings.from_env`` does."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from opsrel_core.config import OpsSettings
from opsrel_dagster.assembly import env_bound, library_resources
from opsrel_dagster.resources import OpsDatabase

REPO = Path(__file__).resolve().parents[2]


def test_a_set_variable_is_bound_and_an_unset_one_left_empty(monkeypatch):
    monkeypatch.setenv("OPSREL_DATABASE_URL", "sqlite:////tmp/x.db")
    monkeypatch.delenv("OPSREL_HOME", raising=False)
    bound = env_bound("OPSREL_DATABASE_URL")
    assert isinstance(bound, dg.EnvVar) and bound.env_var_name == "OPSREL_DATABASE_URL"
    assert env_bound("OPSREL_HOME") == ""
    ops_db = library_resources()["ops_db"]
    assert isinstance(ops_db.database_url, dg.EnvVar) and ops_db.home == ""


def test_empty_fields_resolve_to_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("OPSREL_DATABASE_URL", "OPSREL_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert OpsDatabase().settings == OpsSettings.from_env({})
    assert OpsDatabase().settings.database_url == f"sqlite:///{tmp_path / '.opsrel' / 'ops.db'}"
    # A home alone moves the embedded database with it, as OPSREL_HOME does.
    home = OpsDatabase(home=str(tmp_path / "h")).settings
    assert home.database_url == f"sqlite:///{tmp_path / 'h' / 'ops.db'}"


def test_the_code_location_loads_and_shows_its_bindings_with_or_without_variables(tmp_path):
    script = (
        "import opsrel_dagster.definitions as d\n"
        "from dagster._core.remote_representation.external_data import RepositorySnap\n"
        "snap = RepositorySnap.from_def(d.defs.get_repository_def())\n"
        "print({r.name: sorted(type(v).__name__ for v in r.configured_values.values())"
        " for r in snap.resources if r.name == 'ops_db'})\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPSREL_")}
    unset = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=base,
                           capture_output=True, text=True, timeout=300)
    assert unset.returncode == 0, unset.stderr
    assert "ResourceConfigEnvVarSnap" not in unset.stdout
    bound = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
        env={**base, "OPSREL_HOME": str(tmp_path), "OPSREL_DATABASE_URL": "sqlite:////tmp/y.db"},
        timeout=300)
    assert bound.returncode == 0, bound.stderr
    assert bound.stdout.count("ResourceConfigEnvVarSnap") == 2, bound.stdout
