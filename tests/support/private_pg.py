"""A private PostgreSQL cluster for outage tests: stop, start and restart it at will.

The shared server on 5432 is never touched: ``PrivateCluster`` runs ``initdb`` into a temporary
folder and ``pg_ctl`` on a free port (trust authentication, listening on 127.0.0.1 only). Use
the ``private_pg`` fixture (import it into the test module) to get a running cluster with an
empty database ``opsrel``; it is stopped and removed at teardown.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.receivers import free_port

PG_BIN = Path(os.environ.get("OPSREL_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivateCluster:
    """One PostgreSQL cluster owned by a test.

    Args:
        root: an empty folder for the data directory, socket and log.
        port: the TCP port to listen on (127.0.0.1).
    """

    def __init__(self, root: Path, port: int):
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "server.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``opsrel`` database (psycopg 3)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/opsrel"

    def _run(self, *args: str) -> None:
        env = {**os.environ, "LC_ALL": "C"}
        # initdb and the server refuse to run as root: run them as the postgres user then.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, env=env, timeout=120)

    def init(self) -> None:
        """Create the cluster (``initdb``), start it and create the ``opsrel`` database."""
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                "max_connections = 60\n"
            )
        self.start()
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "opsrel")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start")

    def stop(self) -> None:
        """Stop the server at once (``-m immediate``: like a crash; clients are cut off)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def is_running(self) -> bool:
        """True while the server process is up."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        result = subprocess.run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"],
                                capture_output=True)
        return result.returncode == 0


@pytest.fixture
def private_pg() -> Iterator[PrivateCluster]:
    """A running private PostgreSQL cluster with an empty ``opsrel`` database."""
    # Not under pytest's tmp folder: that one is private to root, and the server runs as
    # the postgres user when the tests run as root.
    cluster = PrivateCluster(Path(tempfile.mkdtemp(prefix="opsrel-pg-")), free_port())
    cluster.init()
    try:
        yield cluster
    finally:
        if cluster.is_running():
            cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)
