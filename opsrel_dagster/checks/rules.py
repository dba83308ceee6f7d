"""A validation rule as a domain declares it: a pandera schema or a table measure, and a severity.

A ``PanderaRule`` is a named pandera schema (row-level) or ``TableMeasure`` (table-level) with a
severity: FAIL (blocking) or WARN. Its ``definition`` is plain JSON (``rule_codec``) whose hash
with the severity is the rule version; ``load_rule`` rebuilds a rule from a stored version and
``register_pandera_rule`` registers one in the ops schema.
"""

import dataclasses
import functools
import math
import operator
from collections.abc import Callable
from typing import Any

import pandas as pd
import pandera.pandas as pa

from opsrel_core.domain.dq_baseline import ALERT_BASELINE, ALERT_POLICIES
from opsrel_core.services.quality import RuleVersionView, ValidationService, rule_version_hash
from opsrel_dagster.checks.rule_codec import (
    function_ref, nullable_dtypes, resolve_ref, schema_from_json, schema_to_json,
)

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
}


@dataclasses.dataclass(frozen=True)
class TableMeasure:
    """A table-level figure and its bound, e.g. the share of cancelled flights ``<= 0.5``.

    Attributes:
        name: what is measured, e.g. ``"cancelled_share"``.
        fn: computes the figure from the whole frame.
        op: ``"<="``, ``"<"``, ``">="`` or ``">"``; the rule holds when ``fn(frame) op bound``.
        bound: the bound.
    """

    name: str
    fn: Callable[[pd.DataFrame], float]
    op: str
    bound: float

    @property
    def bound_text(self) -> str:
        """The bound as stored, e.g. ``"<= 0.5"``."""
        return f"{self.op} {self.bound:g}"

    def holds(self, value: float) -> bool:
        """Whether a measured value satisfies the bound (NaN never does)."""
        return not math.isnan(value) and _OPERATORS[self.op](value, self.bound)


@dataclasses.dataclass(frozen=True)
class PanderaRule:
    """A named validation rule: a pandera schema (row-level) or a table-level measure.

    Attributes:
        rule_id: the rule's name; also the asset check's name.
        severity: ``"FAIL"`` (blocking) or ``"WARN"``.
        description: what the rule asserts.
        schema: the pandera schema, or a zero-argument function building it (for schemas that
            read reference data: built on first use, not at import). None for a table-level rule.
        measure: the table-level figure and bound; its pandera check is built from it.
        sample_columns: columns shown with each failing row in the samples.
        code_version: bump when code the definition cannot see changes (a measure's function).
        alert: how a WARN rule's warnings raise DQ-002: ``"baseline"`` (default: when they rise
            above the rule's own recent history), ``"always"`` or ``"never"``
            (``opsrel_core.domain.dq_baseline``). Not part of the rule version.
    """

    rule_id: str
    severity: str
    description: str
    schema: "pa.DataFrameSchema | Callable[[], pa.DataFrameSchema] | None" = None
    measure: TableMeasure | None = None
    sample_columns: tuple[str, ...] = ()
    code_version: str = "1"
    alert: str = ALERT_BASELINE

    def __post_init__(self) -> None:
        if self.severity not in ("FAIL", "WARN"):
            raise ValueError(f"rule {self.rule_id}: severity must be FAIL or WARN")
        if self.alert not in ALERT_POLICIES:
            raise ValueError(f"rule {self.rule_id}: alert must be one of {ALERT_POLICIES}")
        if (self.schema is None) == (self.measure is None):
            raise ValueError(f"rule {self.rule_id}: give exactly one of schema and measure")
        if self.measure is not None and self.measure.op not in _OPERATORS:
            raise ValueError(f"rule {self.rule_id}: unknown operator {self.measure.op!r}")

    @functools.cached_property
    def pandera_schema(self) -> pa.DataFrameSchema:
        """The schema validated (built once)."""
        if self.measure is not None:
            m = self.measure
            return pa.DataFrameSchema(
                checks=[pa.Check(lambda df: m.holds(float(m.fn(df))), name=m.name,
                                 statistics={"op": m.op, "bound": m.bound})]
            )
        if isinstance(self.schema, pa.DataFrameSchema):  # a schema is callable itself
            return nullable_dtypes(self.schema)
        return nullable_dtypes(self.schema())  # type: ignore[misc]

    @functools.cached_property
    def definition(self) -> dict[str, Any]:
        """The rule's serialized form (plain JSON, loadable by ``load_rule``); its hash (with the
        severity) is the rule version.

        Raises:
            LogicException: LOG-001 when a check or the measure cannot be serialized, so a
                rule is never stored without one of its checks.
        """
        common = {"code_version": self.code_version, "sample_columns": list(self.sample_columns)}
        if self.measure is not None:
            m = self.measure
            return {"kind": "table", **common, "measure": {
                "name": m.name, "fn": function_ref(m.fn, self.rule_id), "op": m.op,
                "bound": m.bound,
            }}
        return {"kind": "row", **common, "schema": schema_to_json(self.pandera_schema, self.rule_id)}

    @property
    def version_hash(self) -> str:
        """``sha256:<hex>`` of the definition and severity (``ValidationService``'s hash)."""
        return rule_version_hash(self.definition, self.severity)


def load_rule(
    rule_id: str, severity: str, description: str, definition: dict[str, Any]
) -> PanderaRule:
    """Rebuild a rule from its stored version (``PanderaRule.definition``), e.g. to validate the
    next execution with exactly the rules a version names (severity and every check included).

    Raises:
        LogicException: LOG-001 when a check method or measure function is not available here.
    """
    common = dict(rule_id=rule_id, severity=severity, description=description,
                  sample_columns=tuple(definition.get("sample_columns", ())),
                  code_version=definition["code_version"])
    if definition["kind"] == "table":
        m = definition["measure"]
        return PanderaRule(**common, measure=TableMeasure(
            name=m["name"], fn=resolve_ref(m["fn"]), op=m["op"], bound=m["bound"]))
    return PanderaRule(**common, schema=schema_from_json(definition["schema"]))


def register_pandera_rule(engine: Any, rule: PanderaRule, asset_key: str) -> RuleVersionView:
    """Register a rule's version in the ops schema (``ValidationService.register_rule``).

    Raises:
        LogicException: LOG-001 when the rule cannot be serialized; nothing is written then.
    """
    definition = rule.definition  # serialize first: a rule is never stored without a check
    return ValidationService(engine).register_rule(
        rule.rule_id, asset_key, rule.severity, rule.description, definition,
        alert_policy=rule.alert,
    )
