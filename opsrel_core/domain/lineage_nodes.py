"""The identity of a lineage node: one asset partition at one version.

``version_ref`` follows one convention:

* ``SOURCE``: the source's URI (``file:///landing/flights_2013-01-01.csv``) or its content hash;
  an unpartitioned source (a reference table) uses partition ``""``.
* ``SNAPSHOT``: the snapshot id, ``sha256:<hex>`` (``snapshot.snapshot_id``).
* ``TRANSFORM``, ``AGGREGATION``, ``RESULT``: ``v<version_number>`` of the asset partition's
  result version (``result_version.version_number``).

Pure: the rules a ``NodeRef`` enforces are the columns' limits and the convention above, checked
before anything is written, and ``node_order`` is the one order every answer is sorted in.
"""

import dataclasses
import re
from collections.abc import Iterable, Sequence

from opsrel_core.domain import error_codes
from opsrel_core.errors import LogicException

# The pipeline's layers, in pipeline order (``lineage_node.node_type`` holds one of them).
LINEAGE_NODE_TYPES = ("SOURCE", "SNAPSHOT", "TRANSFORM", "AGGREGATION", "RESULT")
VERSIONED_NODE_TYPES = ("TRANSFORM", "AGGREGATION", "RESULT")
_VERSION_REF = re.compile(r"v[1-9][0-9]*")


@dataclasses.dataclass(frozen=True, order=True)
class NodeRef:
    """The identity of a lineage node (see the module docstring for ``version_ref``).

    Raises:
        ValueError: unknown ``node_type``, a blank asset or version, a value longer than its
            column, or a versioned node whose ``version_ref`` is not ``v<N>``.
    """

    node_type: str
    asset_key: str
    partition_key: str
    version_ref: str

    def __post_init__(self) -> None:
        if self.node_type not in LINEAGE_NODE_TYPES:
            raise ValueError(f"node_type must be one of {LINEAGE_NODE_TYPES}: {self.node_type!r}")
        if not self.asset_key.strip() or not self.version_ref.strip():
            raise ValueError(f"asset_key and version_ref must not be blank: {self!r}")
        limits = ((self.asset_key, 200), (self.partition_key, 100), (self.version_ref, 100))
        if any(len(value) > limit for value, limit in limits):
            raise ValueError(f"a key is longer than its column (200/100/100): {self!r}")
        if self.node_type in VERSIONED_NODE_TYPES and not _VERSION_REF.fullmatch(self.version_ref):
            raise ValueError(f"{self.node_type} version_ref must be 'v<N>': {self.version_ref!r}")

    @classmethod
    def source(cls, asset_key: str, partition_key: str, uri_or_hash: str) -> "NodeRef":
        """A SOURCE node: its URI or content hash is the version."""
        return cls("SOURCE", asset_key, partition_key, uri_or_hash)

    @classmethod
    def snapshot(cls, asset_key: str, partition_key: str, snapshot_id: str) -> "NodeRef":
        """A SNAPSHOT node: its ``sha256:<hex>`` id is the version."""
        return cls("SNAPSHOT", asset_key, partition_key, snapshot_id)

    @classmethod
    def versioned(
        cls, node_type: str, asset_key: str, partition_key: str, version_number: int
    ) -> "NodeRef":
        """A TRANSFORM, AGGREGATION or RESULT node at result version ``version_number``."""
        return cls(node_type, asset_key, partition_key, f"v{version_number}")

    @property
    def version_number(self) -> int | None:
        """The result version number of a versioned node, else None."""
        if self.node_type not in VERSIONED_NODE_TYPES:
            return None
        return int(self.version_ref[1:])


def node_order(ref: NodeRef) -> tuple[int, str, str, int, str]:
    """Pipeline order: type as listed, then asset, partition, version (v10 after v9).

    Args:
        ref: any node.

    Returns:
        A sort key: ``(layer index, asset, partition, version number or 0, version_ref)``.
    """
    return (
        LINEAGE_NODE_TYPES.index(ref.node_type),
        ref.asset_key,
        ref.partition_key,
        ref.version_number or 0,
        ref.version_ref,
    )


def distinct_edges(edges: Iterable[tuple[NodeRef, NodeRef]]) -> list[tuple[NodeRef, NodeRef]]:
    """The ``(input, output)`` pairs of a run, each once, in the order first given.

    Raises:
        LogicException: LOG-001 for an edge from a node to itself (the table refuses one too).
    """
    pairs = list(dict.fromkeys(edges))
    for from_ref, to_ref in pairs:
        if from_ref == to_ref:
            raise LogicException(
                error_codes.LOG_INVARIANT_BROKEN,
                f"a lineage node cannot feed itself: {from_ref}",
            )
    return pairs


def nodes_of(pairs: Sequence[tuple[NodeRef, NodeRef]]) -> list[NodeRef]:
    """Every node of the pairs, each once, sorted.

    A fixed insertion order keeps concurrent writers of overlapping nodes from deadlocking.
    """
    return sorted({ref for pair in pairs for ref in pair})
