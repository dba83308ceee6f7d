"""Real Dagster processes for tests: ``dagster-daemon run`` and ``dagster-webserver`` on loopback.

Each process is started in its own session (process group) on the repository's workspace, logs
to a file in the test's tmp folder, and is killed by its group id at teardown (``dagster dev``
in the background ignores polite signals, so tests start and kill the two
processes themselves). ``wait_until`` polls a condition and fails with the processes' logs.
"""

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from opsrel_dagster.webserver import DagsterWebserver
from tests.support.receivers import free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")


@dataclasses.dataclass
class DagsterProcess:
    """A started Dagster process: its Popen and its log file."""

    name: str
    process: subprocess.Popen  # type: ignore[type-arg]
    log_path: Path

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the process's log."""
        return f"--- {self.name} log ---\n" + self.log_path.read_text(errors="replace")[-chars:]

    def assert_alive(self) -> None:
        """Fail with the log when the process has exited."""
        assert self.process.poll() is None, self.log_tail()


@contextlib.contextmanager
def dagster_process(name: str, args: list[str], env: dict[str, str], tmp_path: Path
                    ) -> Iterator[DagsterProcess]:
    """Run ``BIN/args[0] args[1:]`` from the repository in its own process group; kill it after."""
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(BIN / args[0]), *args[1:]], cwd=REPO, env={**os.environ, **env},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            yield DagsterProcess(name, process, log_path)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@contextlib.contextmanager
def dagster_daemon(env: dict[str, str], tmp_path: Path) -> Iterator[DagsterProcess]:
    """``dagster-daemon run`` on the repository's workspace (sensors, run queue, backfills)."""
    with dagster_process("daemon", ["dagster-daemon", "run", "-w", str(REPO / "workspace.yaml")],
                         env, tmp_path) as daemon:
        yield daemon


@dataclasses.dataclass
class Webserver:
    """A running dagster-webserver: its base URL and process."""

    url: str
    process: DagsterProcess

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a GraphQL query to the webserver; returns ``data`` (raises on ``errors``)."""
        return DagsterWebserver(self.url, timeout=60).graphql(query, variables)


@contextlib.contextmanager
def dagster_webserver(env: dict[str, str], tmp_path: Path, start_seconds: float = 180
                      ) -> Iterator[Webserver]:
    """``dagster-webserver`` on a free loopback port; yields once ``/server_info`` answers."""
    port = free_port()
    args = ["dagster-webserver", "-h", "127.0.0.1", "-p", str(port),
            "-w", str(REPO / "workspace.yaml")]
    with dagster_process("webserver", args, env, tmp_path) as process:
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                with urllib.request.urlopen(url + "/server_info", timeout=5) as resp:
                    return resp.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        wait_until(answers, start_seconds, [process])
        yield Webserver(url, process)


def wait_until(condition: Callable[[], T], seconds: float, processes: list[DagsterProcess]) -> T:
    """Poll ``condition`` every 0.5 s until it returns something truthy; return it.

    Fails (with the processes' logs) when a process exited or ``seconds`` passed.
    """
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        for p in processes:
            p.assert_alive()
        if time.monotonic() > deadline:
            raise AssertionError(
                f"condition not met within {seconds} s\n" + "\n".join(p.log_tail() for p in processes))
        time.sleep(0.5)
