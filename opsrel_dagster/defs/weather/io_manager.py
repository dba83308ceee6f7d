"""The versioned IO manager for partition keys that are not plain dates.

``VersionedIOManager`` records each stored file as a ``file://`` URI (``Path.as_uri``), which
percent-encodes a ``:`` of an hourly key (``2013-11-03-01%3A00``), and reads the URI back as a
path without decoding it, so the file is not found. This subclass decodes the URI before the
library reads it, and is otherwise the library's IO manager; it goes when the library decodes
the URIs itself.
"""

import dataclasses
import urllib.parse
from typing import Any

import dagster as dg

from opsrel_core.services.result_versions import ResultVersionService, ResultVersionView
from opsrel_dagster.io_managers import VersionedIOManager


class DecodedUriIOManager(VersionedIOManager):
    """``VersionedIOManager`` that reads versions whose storage URI is percent-encoded."""

    def _load(self, context: dg.InputContext, partition_key: str,
              version: ResultVersionView | None = None) -> Any:
        if version is None:
            # The library's own look-up: this run's version, else the active one.
            versions = ResultVersionService(self.ops_db.engine)
            asset_key = context.asset_key.to_user_string()
            run_id = context.upstream_output.run_id if context.upstream_output else None
            if run_id:
                version = versions.version_of_execution(asset_key, partition_key, run_id)
            version = version or versions.get_active_version(asset_key, partition_key)
        if version is not None:
            version = dataclasses.replace(
                version, storage_uri=urllib.parse.unquote(version.storage_uri))
        # None: the library raises BAT-006 naming the asset partition.
        return super()._load(context, partition_key, version)
