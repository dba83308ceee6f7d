"""What code ran: the installed library versions and the git commit of a checkout.

Pure helpers the Dagster adapter calls to fill an execution's context (``code_version`` and
``library_versions`` of ``ExecutionContextService.record_context``); framework-free, and they
read only package metadata and the files of ``.git`` (no ``git`` process).
"""

import functools
import importlib.metadata
from collections.abc import Iterable
from pathlib import Path

DEFAULT_PACKAGES = ("dagster", "pandas", "pandera", "sqlalchemy", "numpy", "opsrel")


def library_versions(packages: Iterable[str] = DEFAULT_PACKAGES) -> dict[str, str | None]:
    """Installed versions of distributions, from their metadata (no imports).

    Args:
        packages: distribution names.

    Returns:
        ``{name: version}``, sorted by name; None for a distribution that is not installed.
    """
    return {name: _installed_version(name) for name in sorted(set(packages))}


@functools.lru_cache(maxsize=256)
def _installed_version(name: str) -> str | None:
    # Read once per process: the code this process runs is what it imported at start, and the
    # metadata lookup cost ~25 ms per recorded execution (benchmark B3).
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit(repo_dir: str | Path) -> str | None:
    """The commit checked out at ``repo_dir`` (or a parent), read from ``.git`` without git.

    Follows ``HEAD`` to its branch ref, in ``refs/`` or ``packed-refs``; supports a detached
    ``HEAD`` and ``.git`` files of worktrees and submodules (``gitdir:``, ``commondir``).

    Args:
        repo_dir: a folder inside the checkout.

    Returns:
        The 40-hex commit id, or None when there is no checkout or the ref cannot be resolved
        (for example a fresh repository without commits).
    """
    git_dir = _find_git_dir(Path(repo_dir).resolve())
    if git_dir is None:
        return None
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head if _is_sha(head) else None
    ref = head[4:].strip()
    common = git_dir
    if (git_dir / "commondir").is_file():
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for base in dict.fromkeys((git_dir, common)):
        loose = base / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8").strip()
            return value if _is_sha(value) else None
        packed = base / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1] == ref and _is_sha(parts[0]):
                    return parts[0]
    return None


def _find_git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():
            text = dot_git.read_text(encoding="utf-8").strip()
            if text.startswith("gitdir:"):
                return (folder / text[7:].strip()).resolve()
            return None
    return None


def _is_sha(value: str) -> bool:
    return len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value.lower())
