"""Read a delivered CSV file with the checks every delivery gets, whatever its pipeline.

Every way a delivery can be wrong maps to one catalog code:

* 0 bytes, or a header without rows -> ``INP-001`` (empty file);
* larger than the pipeline's limit (``MAX_LANDING_BYTES``, 256 MiB, by default) -> ``INP-002``
  before a byte is parsed, so a runaway export cannot exhaust the worker's memory;
* not CSV (binary content, undecodable bytes, UTF-16 text, ragged rows, text in numeric columns,
  another separator than the comma) -> ``INP-002``; a UTF-8 byte-order mark is accepted;
* truncated: the last row does not end with a line break (a transfer cut mid-row) -> ``INP-002``.
  A cut exactly at a line break cannot be told from a shorter delivery without a manifest;
* a column the pipeline requires missing -> ``INP-003``, naming the columns.

The path must be a regular file: a directory, a broken symlink or any other non-file entry named
like a delivery is ``INP-002`` too (never treated as "no delivery"). A configured landing folder
that is missing or not a folder, and any I/O error while looking at or reading the file
(permissions, a lost mount), is ``EXT-001`` naming the folder or file.

A pipeline adds its own columns and rows checks (its partition, its types). Framework-free:
pandas only.
"""

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from opsrel_core.domain.error_codes import (
    EXT_SOURCE_UNAVAILABLE,
    INP_EMPTY_FILE,
    INP_MALFORMED_FILE,
    INP_MISSING_COLUMN,
)
from opsrel_core.errors import ExternalApiException, InputDataException

MAX_LANDING_BYTES = 256 * 1024 * 1024
_SNIFF_BYTES = 8192
_OTHER_SEPARATORS = (";", "\t", "|")


def find_delivery(landing_dir: Path, file_name: str) -> Path | None:
    """Return the entry ``file_name`` of a configured landing folder, or None when there is none.

    Any pipeline's deliveries are looked up this way. Only a definite "no such entry" means no
    delivery. Any entry of that name is returned, even one that is not a regular file, so that
    ``read_delivered_csv`` refuses it.

    Args:
        landing_dir: the configured landing folder; it must exist and be a folder.
        file_name: the delivery's file name, e.g. ``flights_2013-01-01.csv``.

    Returns:
        ``<landing_dir>/<file_name>`` when an entry of that name exists, else None.

    Raises:
        ExternalApiException: ``EXT-001`` when the folder does not exist, is not a folder, or
            cannot be inspected (an unmounted, mistyped or unreadable folder); ``details`` holds
            ``landing_dir``.
    """
    folder = landing_dir.absolute()
    try:
        folder_stat = landing_dir.stat()
    except FileNotFoundError as exc:
        raise _folder_unavailable(folder, "does not exist (not mounted, or mistyped?)") from exc
    except OSError as exc:
        raise _folder_unavailable(folder, f"cannot be read: {_os_error(exc)}") from exc
    if not stat.S_ISDIR(folder_stat.st_mode):
        raise _folder_unavailable(folder, "is not a folder")
    path = landing_dir / file_name
    try:
        path.lstat()  # lstat: a broken symlink still counts as a (bad) delivery
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _folder_unavailable(folder, f"cannot be read: {_os_error(exc)}") from exc
    return path


def read_delivered_csv(
    path: Path, *, string_columns: "tuple[str, ...]", required_columns: Sequence[str] = (),
    max_bytes: int = MAX_LANDING_BYTES, typical_size: str = "",
) -> tuple[pd.DataFrame, str]:
    """Read a delivered CSV file with the checks every delivery gets, whatever its pipeline.

    Checked in order: a regular file (``INP-002`` otherwise), not empty (``INP-001``), at most
    ``max_bytes`` (``INP-002`` before a byte is parsed), not UTF-16 or binary, ending with a line
    break (``INP-002``), parseable as comma-separated UTF-8 (``INP-002``; a byte-order mark is
    accepted), at least one row (``INP-001``), every required column (``INP-003``). The pipeline
    checks its types and rows after.

    Args:
        path: the delivered file.
        string_columns: columns read as text whatever their values look like.
        required_columns: the pipeline's columns, in its canonical order (extra ones are kept).
        max_bytes: the largest delivery read, in bytes.
        typical_size: what a normal delivery weighs, for the too-large message.

    Returns:
        ``(frame, source_uri)``: the rows as pandas parsed them and the file's ``file://`` URI.

    Raises:
        InputDataException: ``INP-001`` / ``INP-002`` as above; ``details`` holds ``source_uri``.
            ``INP-003`` (``missing_columns_error``) naming the absent required columns.
        ExternalApiException: ``EXT-001`` when the file cannot be read (permissions, I/O error).
    """
    file_stat = _regular_file_stat(path)
    uri = path.resolve().as_uri()
    if file_stat.st_size == 0:
        raise InputDataException(INP_EMPTY_FILE, f"{uri} is empty (0 bytes)", {"source_uri": uri})
    if file_stat.st_size > max_bytes:
        note = f" ({typical_size})" if typical_size else ""
        raise _malformed(uri, f"{file_stat.st_size} bytes, more than the {max_bytes} bytes a "
                              f"delivery may have{note}")
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
            handle.seek(-1, os.SEEK_END)
            last = handle.read(1)
    except OSError as exc:
        raise _unreadable(uri, exc) from exc
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _malformed(uri, "UTF-16 text; deliveries are UTF-8")
    if b"\x00" in head:
        # A CSV parser may accept NUL bytes as data; a text delivery never has them.
        raise _malformed(uri, "binary content (NUL bytes)")
    if last not in (b"\n", b"\r"):
        raise _malformed(uri, "truncated: the last row does not end with a line break")
    try:
        # Opened here, not by pandas, so that every read goes through one (checked) open.
        with path.open("r", encoding="utf-8-sig", newline="") as text:
            frame = pd.read_csv(
                text,
                on_bad_lines="error",
                dtype={c: str for c in string_columns},
            )
    except OSError as exc:
        raise _unreadable(uri, exc) from exc
    except pd.errors.EmptyDataError as exc:  # only blank lines
        raise InputDataException(
            INP_EMPTY_FILE, f"{uri} has no header and no rows", {"source_uri": uri}
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise _malformed(uri, f"{type(exc).__name__}: {str(exc).strip()}") from exc

    if len(frame) == 0:
        raise InputDataException(
            INP_EMPTY_FILE, f"{uri} has a header but no rows", {"source_uri": uri}
        )
    if len(frame.columns) == 1:
        used = [sep for sep in _OTHER_SEPARATORS if sep in str(frame.columns[0])]
        if used:
            raise _malformed(uri, f"the header is separated by {used[0]!r}; deliveries are "
                                  "comma-separated")
    present = set(frame.columns)
    absent = [column for column in required_columns if column not in present]
    if absent:
        raise missing_columns_error(uri, absent)
    return frame, uri


def missing_columns_error(uri: str, absent: "list[str]") -> InputDataException:
    """``INP-003`` naming the required columns a delivery lacks (``details``: ``source_uri``,
    ``missing_columns``)."""
    return InputDataException(
        INP_MISSING_COLUMN,
        f"{uri} lacks required column(s): {', '.join(absent)}",
        {"source_uri": uri, "missing_columns": absent},
    )


def _regular_file_stat(path: Path) -> os.stat_result:
    """``stat`` a delivery, refusing anything but a readable regular file (symlinks followed)."""
    where = path.absolute().as_uri()
    try:
        file_stat = path.stat()
    except OSError as exc:
        if path.is_symlink() and exc.errno in (errno.ENOENT, errno.ELOOP):
            target = os.readlink(path)
            raise _malformed(where, f"a broken symbolic link (to {target!r})") from exc
        raise _unreadable(where, exc) from exc
    if not stat.S_ISREG(file_stat.st_mode):
        kind = "a folder" if stat.S_ISDIR(file_stat.st_mode) else "not a regular file"
        raise _malformed(where, f"{kind}, expected a regular CSV file")
    return file_stat


def _os_error(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def _unreadable(uri: str, exc: OSError) -> ExternalApiException:
    return ExternalApiException(
        EXT_SOURCE_UNAVAILABLE,
        f"{uri} could not be read ({_os_error(exc)})",
        {"source_uri": uri},
    )


def _folder_unavailable(folder: Path, problem: str) -> ExternalApiException:
    return ExternalApiException(
        EXT_SOURCE_UNAVAILABLE,
        f"landing folder {folder} {problem}",
        {"landing_dir": str(folder)},
    )


def _malformed(uri: str, problem: str) -> InputDataException:
    return InputDataException(
        INP_MALFORMED_FILE, f"{uri} is not a valid CSV file: {problem}", {"source_uri": uri}
    )
