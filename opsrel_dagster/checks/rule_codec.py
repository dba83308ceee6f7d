"""Rules as loadable JSON, and the dtype normalizations rules validate with.

**Serialization.** pandera's own YAML/JSON export drops what a rule version must keep: a
check that is not registered is skipped with a warning, a renamed check loses its name, and
nullability is not part of a repr-based hash. opsrel serializes a schema itself, into plain JSON
that rebuilds the same schema:

- a column: dtype, nullable, unique, required, coerce, regex and its checks;
- a check: the pandera method that builds it (a built-in such as ``le`` / ``str_matches`` or a
  check registered with ``pandera.extensions.register_check_method``), its statistics, its name,
  error text, ``ignore_na`` and ``raise_warning``;
- the schema: columns, dataframe-level checks, ``unique``, ``report_duplicates``, ``strict``,
  ``coerce``, ``ordered``;
- a table-level measure: its function as an importable ``module:qualname`` reference.

Anything that would not rebuild the same rule (a lambda check, an unregistered function, an index,
a measure that is a lambda) is refused with ``LogicException`` LOG-001, so a rule is never stored
without one of its checks. The canonical JSON of the result is what the rule version hashes, so
the fingerprint changes with any check, statistic, severity or nullability and is the same in
every process.

**Nullable dtypes.** A nullable column declared with a NumPy integer or bool dtype cannot
hold NaN; ``nullable_dtypes`` declares it with the pandas nullable dtype (``Int64``, ``boolean``)
instead, so NA passes and only real bad values fail.

**String backends.** ``normalize_frame`` turns pyarrow-backed and ``StringDtype`` columns
into what the NumPy backend reads (object strings with NaN, int64, float64 for integers with
gaps, bool), so a frame gives the same results whichever dtype backend loaded it.
"""

import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from opsrel_core.domain import error_codes
from opsrel_core.errors import LogicException

_NULLABLE = {
    **{f"int{b}": f"Int{b}" for b in (8, 16, 32, 64)},
    **{f"uint{b}": f"UInt{b}" for b in (8, 16, 32, 64)},
    "bool": "boolean",
}


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON: numpy scalars unwrapped, sets sorted, NaN/NA as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable(v) for v in value), key=str)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalars
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if pd.isna(value):
        return None
    return str(value)


def _refuse(rule_id: str, what: str) -> LogicException:
    return LogicException(
        error_codes.LOG_INVARIANT_BROKEN,
        f"rule {rule_id} cannot be serialized: {what}; use a built-in pandera check or one "
        "registered with pandera.extensions.register_check_method (a table measure: a "
        "module-level function)",
        {"rule_id": rule_id},
    )


# -- checks ----------------------------------------------------------------------------------


def _method_of(check: pa.Check) -> str | None:
    fn = check._check_fn  # noqa: SLF001 - pandera keeps no public handle on the check's method
    custom = getattr(fn, "func", None)
    if custom is not None and getattr(custom, "__name__", None) in pa.Check.REGISTERED_CUSTOM_CHECKS:
        return custom.__name__
    name = getattr(fn, "__name__", None)
    builtin = getattr(pa.Check, name, None) if name else None
    if callable(builtin):
        # Compared by kind and name, not identity: pandera deep-copies checks with their schema.
        try:
            rebuilt = getattr(builtin(**check.statistics), "_check_fn", None)
        except Exception:  # noqa: BLE001 - a user function that only shares a built-in's name
            return None
        if type(rebuilt) is type(fn) and getattr(rebuilt, "__name__", None) == name:
            return name
    return None


def check_to_json(check: pa.Check, rule_id: str) -> dict[str, Any]:
    """Serialize one check (see the module docstring).

    Raises:
        LogicException: LOG-001 when the check is not a built-in or registered pandera check.
    """
    method = _method_of(check)
    if method is None:
        raise _refuse(rule_id, f"check {check.name!r} is not a registered pandera check")
    return {
        "method": method,
        "custom": method in pa.Check.REGISTERED_CUSTOM_CHECKS,
        "name": check.name,
        "error": check.error,
        "statistics": jsonable(check.statistics or {}),
        "ignore_na": bool(check.ignore_na),
        "raise_warning": bool(check.raise_warning),
    }


def check_from_json(spec: dict[str, Any]) -> pa.Check:
    """Rebuild a check from ``check_to_json``'s output.

    Raises:
        LogicException: LOG-001 when its method is not registered in this process.
    """
    factory = getattr(pa.Check, spec["method"], None)
    if factory is None:
        raise _refuse("?", f"check method {spec['method']!r} is not registered in this process")
    kwargs: dict[str, Any] = dict(spec["statistics"])
    kwargs.update(error=spec["error"], ignore_na=spec["ignore_na"],
                  raise_warning=spec["raise_warning"])
    if not spec["custom"]:  # registered checks always carry their method's name
        kwargs["name"] = spec["name"]
    return factory(**kwargs)


# -- schemas ---------------------------------------------------------------------------------


def schema_to_json(schema: pa.DataFrameSchema, rule_id: str) -> dict[str, Any]:
    """Serialize a ``DataFrameSchema`` so that ``schema_from_json`` rebuilds it.

    Raises:
        LogicException: LOG-001 for an index, or a check that cannot be serialized.
    """
    if schema.index is not None:
        raise _refuse(rule_id, "index schemas are not supported")
    columns = {
        name: {
            "dtype": None if col.dtype is None else str(col.dtype),
            "nullable": bool(col.nullable),
            "unique": bool(col.unique),
            "required": bool(col.required),
            "coerce": bool(col.coerce),
            "regex": bool(col.regex),
            "checks": [check_to_json(c, rule_id) for c in col.checks],
        }
        for name, col in schema.columns.items()
    }
    unique = schema.unique
    return {
        "columns": columns,
        "checks": [check_to_json(c, rule_id) for c in schema.checks],
        "unique": None if unique is None else sorted([unique] if isinstance(unique, str) else unique),
        "report_duplicates": schema.report_duplicates,
        "strict": jsonable(schema.strict),
        "coerce": bool(schema.coerce),
        "ordered": bool(schema.ordered),
    }


def schema_from_json(spec: dict[str, Any]) -> pa.DataFrameSchema:
    """Rebuild a schema from ``schema_to_json``'s output."""
    columns = {
        name: pa.Column(
            c["dtype"], [check_from_json(k) for k in c["checks"]], nullable=c["nullable"],
            unique=c["unique"], required=c["required"], coerce=c["coerce"], regex=c["regex"],
        )
        for name, c in spec["columns"].items()
    }
    return pa.DataFrameSchema(
        columns, checks=[check_from_json(k) for k in spec["checks"]], unique=spec["unique"],
        report_duplicates=spec["report_duplicates"], strict=spec["strict"],
        coerce=spec["coerce"], ordered=spec["ordered"],
    )


# -- table measures --------------------------------------------------------------------------


def function_ref(fn: Callable[..., Any], rule_id: str) -> str:
    """``module:qualname`` of a module-level function (``builtins:len``).

    Raises:
        LogicException: LOG-001 for a lambda, a nested function or one that does not resolve.
    """
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or "<" in qualname:
        raise _refuse(rule_id, f"measure function {qualname or fn!r} is not importable")
    ref = f"{module}:{qualname}"
    try:
        found = resolve_ref(ref)
    except (ImportError, AttributeError):
        found = None
    if found is not fn:
        raise _refuse(rule_id, f"measure function {ref} does not resolve to itself")
    return ref


def resolve_ref(ref: str) -> Callable[..., Any]:
    """Import the function named by ``function_ref``."""
    module, qualname = ref.split(":", 1)
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


# -- dtypes ----------------------------------------------------------------------------------


def nullable_dtypes(schema: pa.DataFrameSchema) -> pa.DataFrameSchema:
    """The schema with nullable NumPy int/bool columns declared as pandas nullable dtypes.

    NumPy ``int64`` / ``bool`` cannot hold NaN, so without this a null would fail coercion.
    """
    updates = {
        name: {"dtype": _NULLABLE[str(col.dtype)]}
        for name, col in schema.columns.items()
        if col.nullable and col.dtype is not None and str(col.dtype) in _NULLABLE
    }
    return schema.update_columns(updates) if updates else schema


def normalize_frame(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> pd.DataFrame:
    """``frame`` with pyarrow-backed / ``StringDtype`` columns as NumPy-backed ones.

    pandas and pandera read the ``string[pyarrow]`` alias as different dtypes; converting first
    makes results the same whichever dtype backend loaded the frame.

    A column the schema declares with such a dtype itself (``string``, ``...[pyarrow]``) is left
    as it is. Returns the frame unchanged (not copied) when nothing needs converting.
    """
    declared = {name: str(col.dtype) for name, col in schema.columns.items() if col.dtype is not None}
    converted: dict[str, pd.Series] = {}
    for name, series in frame.items():
        dtype = series.dtype
        wanted = declared.get(str(name), "")
        if wanted.startswith("string") or "pyarrow" in wanted:
            continue
        if isinstance(dtype, pd.StringDtype):
            converted[str(name)] = series.astype(object).where(series.notna(), np.nan)
        elif isinstance(dtype, pd.ArrowDtype):
            kind = dtype.numpy_dtype.kind
            if kind in "OUS":
                converted[str(name)] = series.astype(object).where(series.notna(), np.nan)
            elif kind in "iu" and series.isna().any():
                # As the NumPy backend reads it: an integer column with gaps is float64.
                converted[str(name)] = series.astype("float64")
            elif kind == "b" and series.isna().any():
                converted[str(name)] = series.astype(object).where(series.notna(), np.nan)
            else:
                converted[str(name)] = series.astype(dtype.numpy_dtype)
    if not converted:
        return frame
    out = frame.copy()
    for name, series in converted.items():
        out[name] = series
    return out
