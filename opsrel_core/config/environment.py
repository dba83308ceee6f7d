"""The process environment: the one place opsrel reads (or, for Dagster, writes) it.

Every setting is parsed from a plain mapping (``OpsrelSettings.from_env(environ)``); only the
edges (the CLI, the API's ``serve``, Dagster resources and sensors) fall back on the process's
own environment, through ``environment()`` here, so that a test or a caller can always hand in
a dict instead.
"""

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping


def environment() -> Mapping[str, str]:
    """The process environment (``os.environ``), read when called, never at import."""
    return os.environ


def or_process(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """``environ``, or the process environment when it is None."""
    return environment() if environ is None else environ


def variables_set(names: Iterable[str], environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The variables among ``names`` that ``environ`` sets to a non-blank value.

    Dagster resolves a ``dg.EnvVar`` only when it is set; the assembly binds one for each
    variable listed here and leaves the others to the embedded defaults.
    """
    env = or_process(environ)
    return frozenset(name for name in names if (env.get(name) or "").strip())


def text(env: Mapping[str, str], name: str) -> str | None:
    """The stripped value of ``name``; None when it is unset or blank."""
    value = env.get(name)
    return value.strip() if value and value.strip() else None


def number(env: Mapping[str, str], name: str, default: float, kind: type = float):  # type: ignore[no-untyped-def]
    """``kind(value)`` of ``name``, or ``kind(default)`` when it is unset or blank.

    Raises:
        ValueError: ``<name> must be a number, got '<value>'``.
    """
    raw = text(env, name)
    if raw is None:
        return kind(default)
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def publish(name: str, value: str) -> None:
    """Set ``name`` in the process environment, for a library that reads it there (Dagster
    reads ``DAGSTER_HOME`` from it, as do the run workers it starts)."""
    os.environ[name] = value


@contextlib.contextmanager
def overridden(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in the process environment for the block, then put back what was there
    (unset variables unset again)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
