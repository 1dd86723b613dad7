"""Text views of items, the in-collection STS set (grading, balance, seeding) and its correlations."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import stats

from vitrina.training.data.text_views import (
    ItemViews,
    TextItem,
    TextViewError,
    build_text_views,
    description_text,
    item_views,
)
from vitrina.training.metrics.evaluator import EvaluatorError
from vitrina.training.metrics.sts import GRADING, StsEvaluator, build_sts_set, sts_correlations


def test_views_cut_title_and_keywords_out_of_the_catalogue_text():
    text = "Lightning. electricity, weather, fast. This is a nice detailed image of lightning"
    views = item_views("Lightning", text, {"keywords": ["electricity", "weather", "fast"]})
    assert views == {
        "title": "Lightning",
        "keywords": "electricity, weather, fast",
        "description": "This is a nice detailed image of lightning",
    }


def test_views_keep_text_between_title_and_keywords_and_read_underscores_as_spaces():
    text = "gramastar. star 46pt05step. stars, magick shapes"
    views = item_views("gramastar", text, {"keywords": ["stars", "magick_shapes"]})
    assert views["keywords"] == "stars, magick shapes"
    assert views["description"] == "star 46pt05step"


def test_views_drop_empty_and_repeated_texts():
    assert item_views("cat", "cat", {"keywords": ["Cat"]}) == {"title": "cat"}
    assert item_views("", "", {}) == {}
    assert description_text("t", "t. k", "k") == ""


def test_views_read_tags_when_there_are_no_keywords():
    views = item_views("cat 0", "cat 0. a cat from the animals collection", {"tags": ["old", "small"]})
    assert views == {"title": "cat 0", "keywords": "old, small", "description": "a cat from the animals collection"}


def test_build_text_views_sorts_by_id_and_rejects_list_labels():
    items = [TextItem("b", "bee", "bee. insect", {"keywords": ["insect"], "category": "animals"}),
             TextItem("a", "ant", "ant", {"category": "animals", "subcategory": "bugs"})]
    views = build_text_views(items)
    assert [v.item_id for v in views] == ["a", "b"]
    assert views[0].subcategory == "bugs" and views[1].subcategory is None
    with pytest.raises(TextViewError, match="metadata.category: a grading label must be a single value"):
        build_text_views([TextItem("c", "xyz", "xyz", {"category": ["a", "b"]})])


def _catalogue(n_categories=4, subs=3, per_sub=6):
    items = []
    for c in range(n_categories):
        for s in range(subs):
            for i in range(per_sub):
                item_id = f"c{c}-s{s}-{i}"
                items.append(ItemViews(
                    item_id,
                    {"title": f"title {item_id}", "keywords": f"kw{c}, kw{s}", "description": f"about {item_id}"},
                    category=f"c{c}",
                    subcategory=None if s == 0 else f"s{s}",
                ))
    return items


def _expected_grade(a: ItemViews, b: ItemViews) -> int:
    if a.item_id == b.item_id:
        return 4
    if a.category != b.category:
        return 1
    return 3 if a.subcategory is not None and a.subcategory == b.subcategory else 2


def test_sts_set_is_balanced_and_graded_as_documented():
    items = _catalogue()
    by_id = {it.item_id: it for it in items}
    sts = build_sts_set(items, pairs_per_grade=20, seed=0)
    assert sts.counts() == {1: 20, 2: 20, 3: 20, 4: 20}
    for pair in sts.pairs:
        a, b = by_id[pair.item_a], by_id[pair.item_b]
        assert pair.grade == _expected_grade(a, b)
        assert pair.kind_a != pair.kind_b  # always two different kinds of view
        assert pair.text_a == a.views[pair.kind_a] and pair.text_b == b.views[pair.kind_b]
    keys = [(p.grade, *sorted((p.item_a, p.item_b))) for p in sts.pairs]
    assert len(keys) == len(set(keys))
    assert set(sts.describe()["grading"]) == set(GRADING)


def test_sts_set_is_seeded_and_independent_of_input_order():
    items = _catalogue()
    first = build_sts_set(items, 15, seed=7)
    assert build_sts_set(list(reversed(items)), 15, seed=7) == first
    assert build_sts_set(items, 15, seed=8) != first


def test_sts_set_leaves_out_impossible_grades_and_balances_the_rest(caplog):
    items = [ItemViews(f"i{i}", {"title": f"t{i}", "keywords": f"k{i}"}, category=f"c{i % 2}") for i in range(12)]
    with caplog.at_level(logging.WARNING, logger="vitrina.training.metrics"):
        sts = build_sts_set(items, pairs_per_grade=10, seed=0)
    assert sts.counts() == {1: 10, 2: 10, 4: 10}  # no sub-categories: no grade 3
    assert "without any pair" in caplog.text


def test_sts_set_needs_two_grades():
    items = [ItemViews("a", {"title": "a"}, category="c")]
    with pytest.raises(EvaluatorError, match="items: 1 items give pairs of 0 grade"):
        build_sts_set(items, 5)
    with pytest.raises(EvaluatorError, match="pairs_per_grade: must be at least 1"):
        build_sts_set(_catalogue(), 0)


def test_sts_correlations_match_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 8)), rng.normal(size=(40, 8))
    grades = rng.integers(1, 5, 40).astype(float)
    got = sts_correlations(a, b, grades)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert got["pearson"] == pytest.approx(np.corrcoef(cosine, grades)[0, 1])
    assert got["spearman"] == pytest.approx(stats.spearmanr(cosine, grades).statistic)
    assert got["mean_cosine_grade4"] == pytest.approx(cosine[grades == 4].mean())


def test_sts_evaluator_scores_an_encoder_that_follows_the_grading_near_one():
    items = _catalogue()
    sts = build_sts_set(items, 20, seed=1)
    by_text = {}
    for it in items:
        for text in it.views.values():
            by_text[text] = it
    # One-hot directions for category, sub-category and item, stacked: similarity follows the grades.
    axes = {key: i for i, key in enumerate(sorted({it.category for it in items} | {f"{it.category}/{it.subcategory}" for it in items} | {it.item_id for it in items}))}
    calls = []

    def encode(texts):
        calls.append(len(texts))
        out = np.zeros((len(texts), len(axes)))
        for row, text in enumerate(texts):
            it = by_text[text]
            out[row, axes[it.category]] = 3
            if it.subcategory is not None:
                out[row, axes[f"{it.category}/{it.subcategory}"]] = 2
            out[row, axes[it.item_id]] = 2
        return out

    evaluator = StsEvaluator(sts, name="dev_sts")
    got = evaluator(encode)
    assert evaluator.primary_key == "dev_sts_pearson"
    assert got["dev_sts_pearson"] > 0.85 and got["dev_sts_spearman"] > 0.85
    assert calls == [len(set(sts.texts_a) | set(sts.texts_b))]  # each distinct text encoded once
