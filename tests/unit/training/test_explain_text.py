"""Word attributions (training/explain/text_words.py, text_parts.py) on tiny models."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import transformers

from tests.fakes import FakeTextEncoder
from tests.unit import _tiny_models as tiny
from vitrina.schemas import Modality
from vitrina.training.checkpoint import TowerRecord, save_joint_checkpoint
from vitrina.training.encoders import create_encoder
from vitrina.training.explain.errors import ExplainError
from vitrina.training.explain.text_parts import text_parts
from vitrina.training.explain.text_words import explain_text, explain_texts, explain_texts_until_complete, merge_words
from vitrina.training.heads import HeadConfig, create_head

TEXT = "The red car and the RED tree"
QUERY = "red car"
OTHERS = ["a cat", "stock market report", "", "the green house of the dog"]


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain_text")
    bert_spec = f"hf:{tiny.save_tiny_bert(root / 'bert')}"
    bert = create_encoder(bert_spec, device="cpu")
    torch.manual_seed(0)
    head_config = HeadConfig(bert.dim, 8, "mlp", hidden_dim=16, dropout=0.3)
    save_joint_checkpoint(root / "joint", {Modality.TEXT: TowerRecord(bert_spec, bert.fingerprint, head_config)},
                          {Modality.TEXT: create_head(head_config)})
    return {
        "bert": bert,
        # Its tokenizer pads with the end-of-text id, which CLIP pools at: the case the baseline must survive.
        "clip": create_encoder(f"hf:{tiny.save_tiny_clip(root / 'clip')}", modality="text", device="cpu"),
        "joint": create_encoder(f"ckpt:{root / 'joint'}", modality="text", device="cpu"),
    }


def _assert_complete(result, tolerance=1e-5):
    """Word scores add up to score - baseline_score, up to Captum's delta (specials get exactly 0)."""
    gap = sum(w.score for w in result.words) - (result.score - result.baseline_score)
    assert abs(gap) <= abs(result.delta) + tolerance


@pytest.mark.parametrize("name", ["bert", "clip", "joint"])
def test_forward_is_the_encoders_space(encoders, name):
    encoder = encoders[name]
    parts = text_parts(encoder)
    texts = [TEXT, QUERY, "", "cat"]
    tokens = parts.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        vectors = F.normalize(parts.forward(tokens["input_ids"], tokens["attention_mask"]), dim=1).numpy()
    np.testing.assert_allclose(vectors, encoder.encode(texts), atol=1e-5)
    assert parts.dim == encoder.dim and isinstance(parts.embedding, torch.nn.Embedding)


@pytest.mark.parametrize("name", ["bert", "clip", "joint"])
def test_completeness_against_a_target_vector(encoders, name):
    encoder = encoders[name]
    target = encoder.encode([QUERY])[0]
    result = explain_text(encoder, TEXT, target)
    # The explained score is the encoder's own cosine similarity.
    assert result.score == pytest.approx(float(encoder.encode([TEXT])[0] @ target), abs=1e-5)
    assert result.target == "vector" and result.n_steps == 50 and result.reduction == "sum"
    assert abs(result.score - result.baseline_score) > 1e-3
    _assert_complete(result)
    assert abs(result.delta) < 1e-3 * max(1.0, abs(result.score - result.baseline_score))
    # Few steps: a real integration error, which the delta Captum reports accounts for.
    coarse = explain_text(encoder, TEXT, target, n_steps=2)
    _assert_complete(coarse)


@pytest.mark.parametrize("name", ["bert", "clip"])
def test_without_target_the_text_is_explained_against_its_baseline(encoders, name):
    result = explain_text(encoders[name], TEXT)
    assert result.target == "baseline"
    assert result.baseline_score == pytest.approx(1.0, abs=1e-5)
    assert result.score < 1 - 1e-3
    _assert_complete(result)


@pytest.mark.parametrize("name", ["bert", "joint"])
def test_gradient_x_input_is_the_gradient_at_the_text_times_its_offset_from_the_baseline(encoders, name):
    encoder = encoders[name]
    result = explain_text(encoder, TEXT, method="gradient_x_input", n_steps=50)
    assert (result.method, result.n_steps, result.target) == ("gradient_x_input", 1, "baseline")
    _assert_complete(result)  # its delta is exactly how far it is from complete
    # Oracle: autograd through the embedding layer by hand.
    parts = text_parts(encoder)
    tokens = parts.tokenizer([TEXT], return_tensors="pt")
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    special = torch.tensor([[w is None for w in tokens.word_ids(0)]])
    baseline = torch.where(special, ids, torch.full_like(ids, parts.tokenizer.pad_token_id))
    with torch.no_grad():
        target = F.normalize(parts.forward(baseline, mask), dim=1)
    embedded = parts.embedding(ids).detach().requires_grad_(True)
    handle = parts.embedding.register_forward_hook(lambda module, inputs, output: embedded)
    try:
        score = F.cosine_similarity(parts.forward(ids, mask), target, dim=1).sum()
        (gradient,) = torch.autograd.grad(score, embedded)
    finally:
        handle.remove()
    per_token = (gradient * (embedded - parts.embedding(baseline))).sum(dim=2)[0].detach().tolist()
    expected = [score for _, _, score in merge_words(TEXT, tokens.encodings[0].offsets, tokens.word_ids(0), per_token)]
    np.testing.assert_allclose([w.score for w in result.words], expected, atol=1e-5)
    assert result.score == pytest.approx(float(score.detach()), abs=1e-5)


def test_until_complete_doubles_steps_only_where_the_delta_is_too_large(encoders):
    encoder = encoders["bert"]
    texts = [TEXT, QUERY, "the green house of the dog"]
    targets = encoder.encode(["a cat", "stock market report", "red car"])
    loose = explain_texts_until_complete(encoder, texts, targets, start_steps=4, tolerance=10.0)
    assert [r.n_steps for r in loose] == [4, 4, 4]
    strict = explain_texts_until_complete(encoder, texts, targets, start_steps=4, max_steps=16, tolerance=1e-12)
    assert [r.n_steps for r in strict] == [16, 16, 16]
    for result, alone in zip(strict, explain_texts(encoder, texts, targets, n_steps=16)):
        assert [w.score for w in result.words] == pytest.approx([w.score for w in alone.words], abs=1e-6)
    for result in explain_texts_until_complete(encoder, texts, targets):
        assert result.n_steps in (16, 32, 64)
        assert result.n_steps == 64 or abs(result.delta) <= 0.01 * max(abs(result.score - result.baseline_score), 0.1)
        _assert_complete(result)


def test_words_are_text_slices_in_order_with_repeats_and_case(encoders):
    result = explain_text(encoders["bert"], "The red car and the RED car")
    assert [w.word for w in result.words] == ["The", "red", "car", "and", "the", "RED", "car"]
    assert [(w.start, w.end) for w in result.words][-2:] == [(20, 23), (24, 27)]
    assert all("The red car and the RED car"[w.start:w.end] == w.word for w in result.words)
    # Normalised: signs kept, magnitudes summing to 1.
    assert sum(abs(w.normalised) for w in result.words) == pytest.approx(1.0)
    assert all(np.sign(w.normalised) == np.sign(w.score) for w in result.words)


def test_bpe_pieces_merge_into_words(encoders):
    # The tiny CLIP vocabulary spells every word letter by letter.
    pieces = encoders["clip"].tokenizer("red tree").tokens()
    assert len(pieces) == 2 + len("redtree")
    result = explain_text(encoders["clip"], "red tree", encoders["clip"].encode([QUERY])[0])
    assert [(w.word, w.start, w.end) for w in result.words] == [("red", 0, 3), ("tree", 4, 8)]
    _assert_complete(result)  # no piece lost in merging


def test_wordpiece_pieces_sum_into_one_word_and_specials_are_dropped():
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "park", "##ed", "car", "##s", "a", ","])}
    encoding = transformers.BertTokenizer(vocab=vocab)("A car, parked cars", return_offsets_mapping=True)
    assert encoding.tokens() == ["[CLS]", "a", "car", ",", "park", "##ed", "car", "##s", "[SEP]"]
    scores = [100.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 100.0]
    merged = merge_words("A car, parked cars", encoding["offset_mapping"], encoding.word_ids(), scores)
    assert merged == [(0, 1, 1.0), (2, 5, 2.0), (5, 6, 4.0), (7, 13, 24.0), (14, 18, 96.0)]


def test_offsets_with_a_leading_space_are_trimmed():
    # Byte-level BPE without trim_offsets gives " car" for the second word.
    assert merge_words("red car", [(0, 0), (0, 3), (3, 7), (0, 0)], [None, 0, 1, None], [0, 1.0, 2.0, 0]) == [
        (0, 3, 1.0), (4, 7, 2.0)]


def test_l2_reduction_is_an_unsigned_magnitude(encoders):
    encoder = encoders["bert"]
    result = explain_text(encoder, TEXT, encoder.encode([QUERY])[0], reduction="l2")
    assert result.reduction == "l2"
    assert all(w.score > 0 and w.normalised > 0 for w in result.words)
    assert sum(w.normalised for w in result.words) == pytest.approx(1.0)


@pytest.mark.parametrize("with_targets", [False, True])
def test_batched_equals_one_by_one_and_is_deterministic(encoders, with_targets):
    encoder = encoders["bert"]
    texts = [TEXT, *OTHERS]
    targets = encoder.encode([QUERY] * len(texts)) if with_targets else None
    # Batches of 3 mix lengths (padding); 8 rows per pass splits the steps of a batch into several passes.
    batched = explain_texts(encoder, texts, targets, n_steps=10, batch_size=3, internal_batch_size=8)
    for i, text in enumerate(texts):
        single = explain_text(encoder, text, None if targets is None else targets[i], n_steps=10)
        assert [w.word for w in batched[i].words] == [w.word for w in single.words]
        np.testing.assert_allclose([w.score for w in batched[i].words], [w.score for w in single.words], atol=1e-5)
        assert batched[i].score == pytest.approx(single.score, abs=1e-5)
        _assert_complete(batched[i])
    again = explain_texts(encoder, texts, targets, n_steps=10, batch_size=3, internal_batch_size=8)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in batched]
    # The empty text: nothing to attribute, input and baseline coincide.
    empty = batched[texts.index("")]
    assert empty.words == () and empty.score == pytest.approx(empty.baseline_score) and empty.delta == 0


def test_one_target_for_all_texts_equals_one_per_text(encoders):
    encoder = encoders["joint"]
    target = encoder.encode([QUERY])[0]
    shared = explain_texts(encoder, [TEXT, "a cat"], target, n_steps=10)
    repeated = explain_texts(encoder, [TEXT, "a cat"], np.stack([target, target]), n_steps=10)
    assert [r.to_dict() for r in shared] == [r.to_dict() for r in repeated]


def test_to_dict_is_json_ready(encoders):
    result = explain_text(encoders["bert"], "red car", n_steps=5)
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"words", "score", "baseline_score", "delta", "n_steps", "reduction", "target", "method"}
    assert data["words"][0] == {"word": "red", "start": 0, "end": 3, "score": result.words[0].score,
                                "normalised": result.words[0].normalised}
    assert data["target"] == "baseline" and data["n_steps"] == 5


def test_encoder_untouched_while_other_threads_encode(encoders):
    encoder = encoders["bert"]
    texts = [TEXT, *OTHERS]
    reference = encoder.encode(texts)
    expected = explain_text(encoder, TEXT, reference[1], n_steps=20)
    failures: list[str] = []
    stop = threading.Event()

    def encode_meanwhile():
        while not stop.is_set():
            if not np.array_equal(encoder.encode(texts), reference):
                failures.append("encode changed while explaining")

    thread = threading.Thread(target=encode_meanwhile)
    thread.start()
    try:
        results = [explain_text(encoder, TEXT, reference[1], n_steps=20) for _ in range(3)]
    finally:
        stop.set()
        thread.join()
    assert not failures
    assert all(r.to_dict() == expected.to_dict() for r in results)
    # No hooks left on the shared model, no gradients accumulated, nothing unfrozen or frozen.
    modules = list(encoder.model.modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in modules)
    assert all(p.grad is None and p.requires_grad for p in encoder.model.parameters())
    assert not encoder.model.training


def test_errors_name_the_problem(encoders):
    encoder = encoders["bert"]
    with pytest.raises(ExplainError, match="cannot explain texts of encoder 'fake:text'"):
        explain_text(FakeTextEncoder(), TEXT)
    with pytest.raises(ExplainError, match=r"targets must have shape \(32,\)"):
        explain_text(encoder, TEXT, np.ones(5, dtype=np.float32))
    with pytest.raises(ExplainError, match="finite, non-zero"):
        explain_text(encoder, TEXT, np.zeros(encoder.dim, dtype=np.float32))
    with pytest.raises(ExplainError, match="reduction must be one of"):
        explain_text(encoder, TEXT, reduction="max")
    with pytest.raises(ExplainError, match="n_steps must be a positive integer"):
        explain_text(encoder, TEXT, n_steps=0)
    with pytest.raises(ExplainError, match="internal_batch_size must be a positive integer"):
        explain_texts(encoder, [TEXT], internal_batch_size=0)
    with pytest.raises(ExplainError, match="texts must be strings"):
        explain_texts(encoder, [TEXT, 3])
    with pytest.raises(ExplainError, match="got one string"):
        explain_texts(encoder, TEXT)
    # Bad requests, for an API: a ValueError subclass.
    assert issubclass(ExplainError, ValueError)
    assert explain_texts(encoder, []) == []
