"""The text recipe on a tiny random BERT: toy runs learn, saved models load as hf:, seeds reproduce."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.unit._tiny_models import save_tiny_bert
from vitrina.training.data.text_views import ItemViews
from vitrina.training.loop import TIMING_KEYS
from vitrina.training.recipes.text import TextRecipeError, TextTrainConfig, split_items, train_text
from vitrina.training.recipes.text_model import MeanPooledTextModel, TextModelError
from vitrina.training.recipes.text_tasks import InfoNceTask, SimCseTask, unique_sentences

# Words the tiny BERT's vocabulary knows; the category decides the nouns.
CATEGORIES = {"animals": ["cat", "kitten", "dog"], "finance": ["stock", "market", "report"], "things": ["house", "tree", "car"]}
COLOURS = ["red", "blue", "green"]


def toy_items(per_category: int = 30) -> list[ItemViews]:
    items = []
    for category, words in CATEGORIES.items():
        for i in range(per_category):
            word = words[i % 3]
            items.append(ItemViews(
                f"{category}-{i:02d}",
                {"title": f"{COLOURS[(i // 3) % 3]} {word}", "keywords": f"{word} {words[(i + 1) % 3]}",
                 "description": f"a photo of the {word}"},
                category=category, subcategory=word,
            ))
    return items


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # A 32-wide model spends its time synchronising threads on a shared 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return f"hf:{save_tiny_bert(tmp_path_factory.mktemp('tiny-bert'))}"


def _config(base: str, **kw) -> TextTrainConfig:
    defaults = dict(base=base, epochs=3, batch_size=8, lr=1e-3, negatives=4, temperature=0.1, dev_fraction=0.2,
                    test_fraction=0.2, dev_pairs_per_grade=10, test_pairs_per_grade=10, patience=5, log_every=5)
    return TextTrainConfig(**{**defaults, **kw})


def test_infonce_toy_run_lowers_the_loss_and_raises_sts(tiny_bert):
    result = train_text(toy_items(), _config(tiny_bert, method="infonce"), progress=False)
    losses = [h["train_loss"] for h in result.history[1:]]
    assert losses[-1] < losses[0]
    assert result.best["dev_sts_pearson"] > result.baseline["dev_sts_pearson"]
    assert result.test["test_sts_pearson"] > result.baseline["test_sts_pearson"]
    assert len(result.epoch_seconds) == 3 and result.samples_per_second > 0


def test_simcse_run_saves_a_folder_that_loads_as_hf_with_the_same_vectors(tiny_bert, tmp_path):
    from vitrina.training.encoders import create_encoder

    result = train_text(toy_items(), _config(tiny_bert, method="simcse", epochs=1), output_dir=tmp_path / "model", progress=False)
    assert result.spec == f"hf:{tmp_path / 'model'}"
    assert (tmp_path / "model" / "training.json").is_file()
    texts = ["red cat", "a photo of the stock market", "tree"]
    served = create_encoder(result.spec)
    trained = MeanPooledTextModel.from_spec(result.spec)
    np.testing.assert_allclose(served.encode(texts), trained.encode(texts), atol=1e-6)
    if result.best["step"] > 0:  # weights changed, so the fingerprint must too
        assert served.fingerprint != create_encoder(tiny_bert).fingerprint


def test_runs_with_the_same_seed_are_identical(tiny_bert):
    config = _config(tiny_bert, method="infonce", epochs=1, seed=3)
    first = train_text(toy_items(), config, progress=False)
    second = train_text(toy_items(), config, progress=False)
    strip = lambda history: [{k: v for k, v in h.items() if k not in TIMING_KEYS} for h in history]  # noqa: E731
    assert strip(first.history) == strip(second.history)


def test_train_last_layers_leaves_the_rest_untouched(tiny_bert):
    model = MeanPooledTextModel.from_spec(tiny_bert)
    trainable = model.train_last_layers(1)
    assert trainable == sum(p.numel() for p in model.layers()[-1].parameters())
    frozen = {n: p.detach().clone() for n, p in model.model.named_parameters() if not p.requires_grad}
    train_text(toy_items(), _config(tiny_bert, method="simcse", epochs=1, train_layers=1), progress=False, model=model)
    for name, param in model.model.named_parameters():
        if name in frozen:
            assert torch.equal(param, frozen[name]), name
    with pytest.raises(TextModelError, match="train_layers: must be at least 1"):
        model.train_last_layers(0)


def test_infonce_negatives_come_from_other_categories_and_positives_from_the_same_item(tiny_bert):
    items = toy_items()
    category_of = {text: it.category for it in items for text in it.views.values()}
    task = InfoNceTask(MeanPooledTextModel.from_spec(tiny_bert), torch.nn.Identity(), items, negatives=5, batch_size=4, seed=0)
    examples = task.examples(epoch=1)
    assert len(examples) == len(items)
    views_of = [set(it.views.values()) for it in items]
    for example in examples:
        assert example.anchor != example.positive
        assert any({example.anchor, example.positive} <= views for views in views_of)
        assert all(category_of[n] != category_of[example.anchor] for n in example.negatives)
    assert task.examples(epoch=1) == examples and task.examples(epoch=2) != examples


def test_simcse_batches_hold_each_sentence_once():
    items = toy_items() + [ItemViews("dup", {"title": "RED CAT"}, category="animals")]
    sentences = unique_sentences(items)
    assert len({s.casefold() for s in sentences}) == len(sentences)
    task = SimCseTask(None, None, sentences, batch_size=7, seed=0)
    batches = task.batches(epoch=1)
    assert sorted(s for b in batches for s in b) == sorted(sentences)  # no sentence dropped or repeated
    assert all(len(b) >= 2 for b in batches)


def test_split_keeps_items_whole_and_is_seeded():
    items = toy_items()
    split = split_items(items, 0.2, 0.1, seed=4)
    ids = [{it.item_id for it in part} for part in (split.train, split.dev, split.test)]
    assert sum(map(len, ids)) == len(items) and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert split.sizes() == {"train": 63, "dev": 18, "test": 9}
    assert split_items(list(reversed(items)), 0.2, 0.1, seed=4) == split


@pytest.mark.parametrize(
    "change,message",
    [
        ({"method": "triplet"}, "method: unknown method 'triplet'"),
        ({"epochs": 0}, "epochs: must be at least 1"),
        ({"temperature": 0}, "temperature: must be positive"),
        ({"dev_fraction": 0.6, "test_fraction": 0.5}, "dev_fraction: dev"),
        ({"train_layers": 0}, "train_layers: must be at least 1 or None"),
    ],
)
def test_config_errors_name_the_field(change, message):
    with pytest.raises(TextRecipeError, match=message):
        TextTrainConfig(**change).validate()


def test_cli_trains_on_a_bundle_and_prints_the_spec(tiny_bundle_root, tiny_bert, tmp_path):
    from vitrina.training.cli_text import app

    collection = tiny_bundle_root / "tiny"
    out = tmp_path / "cli-model"
    result = CliRunner().invoke(app, [
        "text", "--bundle", str(collection), "--out", str(out), "--method", "infonce", "--base", tiny_bert,
        "--epochs", "1", "--batch-size", "8", "--negatives", "3", "--dev-pairs-per-grade", "5",
        "--test-pairs-per-grade", "5", "--no-progress",
    ])
    assert result.exit_code == 0, result.output
    assert f"encoder spec: hf:{out}" in result.output
    bad = CliRunner().invoke(app, ["text", "--bundle", str(collection), "--out", str(out), "--method", "triplet"])
    assert bad.exit_code != 0 and "expected one of simcse, infonce" in bad.output
