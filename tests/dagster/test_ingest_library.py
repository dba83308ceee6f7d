"""The ingest library by hand: a delivery's required columns, the canonical order a domain gives,
and result files pickled while ``Stamped`` lived in the flights domain."""

import pickle

import pandas as pd
import pytest

from opsrel_core.domain.error_codes import INP_MISSING_COLUMN
from opsrel_core.errors import InputDataException
from opsrel_dagster.ingest.landing import read_delivered_csv
from opsrel_dagster.ingest.snapshots import Stamped, canonical_frame, store_snapshot


def test_a_delivery_lacking_required_columns_is_inp_003_naming_them_in_the_given_order(tmp_path):
    path = tmp_path / "delivery.csv"
    path.write_text("b,extra\n1,x\n")
    with pytest.raises(InputDataException) as caught:
        read_delivered_csv(path, string_columns=(), required_columns=("c", "b", "a"))
    assert caught.value.code == INP_MISSING_COLUMN
    assert caught.value.details["missing_columns"] == ["c", "a"]
    assert caught.value.operator_message.endswith("lacks required column(s): c, a")
    frame, uri = read_delivered_csv(path, string_columns=("extra",), required_columns=("b",))
    assert list(frame.columns) == ["b", "extra"] and uri == path.resolve().as_uri()


def test_the_domain_columns_lead_the_canonical_order_and_the_id_ignores_row_order(tmp_path):
    frame = pd.DataFrame({"z": [2, 1], "b": [1, 1], "a": ["y", "x"]})
    assert list(canonical_frame(frame, ("b", "missing", "a")).columns) == ["b", "a", "z"]
    first = store_snapshot(frame, tmp_path, "2013-01-01-05:00", ("b", "a"))
    again = store_snapshot(frame.iloc[::-1], tmp_path, "2013-01-01-05:00", ("b", "a"))
    assert first.written and not again.written and again.snapshot_id == first.snapshot_id
    assert first.path.parent == tmp_path / "2013-01-01-05:00"


def test_a_result_pickled_under_the_old_module_still_loads():
    stamped = Stamped(snapshot_id="sha256:00", source_rows=2, frame=pd.DataFrame({"a": [1, 2]}))
    data = pickle.dumps(stamped, protocol=0)
    old = data.replace(b"opsrel_dagster.ingest.snapshots\nStamped\n",
                       b"opsrel_dagster.defs.flights.snapshot_store\nStamped\n")
    assert old != data
    loaded = pickle.loads(old)
    assert isinstance(loaded, Stamped) and loaded.snapshot_id == "sha256:00"
    pd.testing.assert_frame_equal(loaded.frame, stamped.frame)
