"""attributions/text.parquet: what the build writes per item, its reuse across versions, its checks."""
from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vitrina.indexer.maps import InvalidFieldError
from vitrina.indexer.word_attributions import (
    TEXT_ATTRIBUTIONS_SCHEMA,
    attribute_space,
    completeness_error,
    read_text_attributions,
    spread,
    write_text_attributions,
)
from vitrina.schemas import SchemaMismatchError
from vitrina.training.explain.text_words import TextAttribution, WordAttribution


class _Counting:
    """Stands in for explain_texts: one word per text, scored so completeness holds."""

    def __init__(self):
        self.texts: list[str] = []

    def __call__(self, encoder, texts, targets, n_steps, reduction, batch_size, method):
        self.texts += texts
        return [TextAttribution((WordAttribution(t, 0, len(t), -0.5, -1.0),), 0.5, 1.0, 0.0, n_steps, reduction, "baseline",
                                method) for t in texts]


ENCODER = SimpleNamespace(fingerprint="enc-1")


def test_rows_round_trip_and_are_complete(tmp_path):
    explain = _Counting()
    rows, counts = attribute_space("text", ["a", "b"], ["red car", "blue bus"], ENCODER, 20, progress=False,
                                   explain=explain)
    assert counts == {"computed": 2, "reused": 0} and completeness_error(rows) == pytest.approx(0.0)
    path = tmp_path / "attributions" / "text.parquet"
    write_text_attributions(rows, path)
    back = read_text_attributions(path)
    assert set(back) == {("text", "a"), ("text", "b")}
    assert back[("text", "b")]["words"] == [{"word": "blue bus", "start": 0, "end": 8, "score": -0.5, "normalised": -1.0}]


def test_a_reindex_recomputes_only_new_or_edited_texts_or_a_new_encoder(tmp_path):
    first, _ = attribute_space("text", ["a", "b", "c"], ["x", "y", "z"], ENCODER, 20, progress=False, explain=_Counting())
    previous = {(r["space"], r["id"]): r for r in first}
    explain = _Counting()
    rows, counts = attribute_space("text", ["a", "b", "d"], ["x", "y edited", "new"], ENCODER, 20, previous,
                                   progress=False, explain=explain)
    assert sorted(explain.texts) == ["new", "y edited"] and counts == {"computed": 2, "reused": 1}
    assert [r["id"] for r in rows] == ["a", "b", "d"]
    assert {r["method"] for r in rows} == {"integrated_gradients"} and {r["n_steps"] for r in rows} == {20}
    for changed in (dict(encoder=SimpleNamespace(fingerprint="enc-2"), steps=20, method="integrated_gradients"),
                    dict(encoder=ENCODER, steps=20, method="gradient_x_input")):
        explain = _Counting()
        attribute_space("text", ["a"], ["x"], changed["encoder"], changed["steps"], previous, progress=False,
                        explain=explain, method=changed["method"])
        assert explain.texts == ["x"]
    # Integrated gradients rows are reused only at the same step count.
    ig, _ = attribute_space("text", ["a"], ["x"], ENCODER, 20, progress=False, explain=_Counting(),
                            method="integrated_gradients")
    for steps, computed in ((20, []), (50, ["x"])):
        explain = _Counting()
        attribute_space("text", ["a"], ["x"], ENCODER, steps, {("text", "a"): ig[0]}, progress=False, explain=explain,
                        method="integrated_gradients")
        assert explain.texts == computed


def test_files_written_before_the_method_column_read_as_integrated_gradients(tmp_path):
    rows, _ = attribute_space("text", ["a"], ["red car"], ENCODER, 20, progress=False, explain=_Counting(),
                              method="integrated_gradients")
    path = tmp_path / "text.parquet"
    write_text_attributions(rows, path)
    pq.write_table(pq.read_table(path).drop_columns(["method"]), path)
    assert read_text_attributions(path)[("text", "a")]["method"] == "integrated_gradients"


def test_spread_takes_an_even_sample_in_order():
    ids = [f"i{n:02d}" for n in range(10)]
    assert spread(ids, None) == ids and spread(ids, 20) == ids and spread(ids, 0) == []
    assert spread(ids, 3) == ["i00", "i04", "i09"] or spread(ids, 3) == ["i00", "i05", "i09"]


def test_a_file_with_another_schema_or_nulls_is_refused(tmp_path):
    path = tmp_path / "text.parquet"
    pq.write_table(pa.table({"space": ["text"], "id": ["a"]}), path)
    with pytest.raises(SchemaMismatchError):
        read_text_attributions(path)
    assert read_text_attributions(tmp_path / "missing.parquet") == {}
    with pytest.raises((InvalidFieldError, pa.ArrowInvalid, ValueError)):
        write_text_attributions([{"space": "text", "id": None}], path)
    assert TEXT_ATTRIBUTIONS_SCHEMA.field("words").type.value_type.num_fields == 5


@pytest.mark.parametrize("steps", [-1, 2.5, True])
def test_attribution_steps_must_be_a_whole_number_of_steps(tmp_path, tiny_catalogue, steps):
    from tests.conftest import build_tiny_bundle

    with pytest.raises(ValueError, match="attribution_steps: must be an integer >= 0"):
        build_tiny_bundle(tmp_path, tiny_catalogue, attribution_steps=steps)


def test_an_unknown_attribution_method_names_the_field(tmp_path, tiny_catalogue):
    from tests.conftest import build_tiny_bundle

    with pytest.raises(ValueError, match="attribution_method: unknown method 'shap'"):
        build_tiny_bundle(tmp_path, tiny_catalogue, attribution_method="shap")


@pytest.mark.parametrize("items", [-1, 2.5, True])
def test_attribution_items_must_be_a_whole_number_of_items(tmp_path, tiny_catalogue, items):
    from tests.conftest import build_tiny_bundle

    with pytest.raises(ValueError, match="attribution_items: must be an integer >= 0"):
        build_tiny_bundle(tmp_path, tiny_catalogue, attribution_items=items)
