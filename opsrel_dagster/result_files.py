"""The files of result versions: each value pickled once to a content-addressed file
(``<OPSREL_HOME>/results/<asset>/<partition>/<sha256>.pkl``), never replaced, and read back by
the ``file://`` URI its version records (``VersionedIOManager``, ``opsrel reproduce``)."""

import hashlib
import os
import pickle
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from opsrel_core.services.results import ResultVersionView


def write_once(directory: Path, data: bytes) -> tuple[str, Path]:
    """Store ``data`` under its content hash in ``directory`` unless it is already there.

    Returns:
        (``sha256:<hex>``, the file's path).
    """
    digest = hashlib.sha256(data).hexdigest()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{digest}.pkl"
    if not path.exists():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return f"sha256:{digest}", path


def file_uri_path(uri: str) -> Path:
    """The local path of a ``file://`` URI as ``Path.as_uri`` writes it, percent-decoded (an
    hourly key's ``:`` is stored as ``%3A``: ``.../2013-11-03-01%3A00-0500.pkl``)."""
    parsed = urllib.parse.urlparse(uri)
    return Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else Path(uri)


def read_version(version: ResultVersionView) -> Any:
    """Load the data of a stored version (``storage_uri`` is a ``file://`` URI)."""
    path = file_uri_path(version.storage_uri)
    with path.open("rb") as fh:
        return pickle.load(fh)
