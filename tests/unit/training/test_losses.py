"""Each loss against values computed by hand (or by a plain Python loop) on tiny tensors."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vitrina.training.losses import ClipLoss, InfoNCELoss, NTXentLoss


def _neg_log_softmax(logits: list[float], target: int) -> float:
    return -(logits[target] - math.log(sum(math.exp(x) for x in logits)))


# ---------------------------------------------------------------- CLIP


def test_clip_loss_matches_hand_computation():
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    loss = ClipLoss(init_temperature=0.5)  # scale 2
    # cosines: image0.text0 = 1, image0.text1 = .6, image1.text0 = 0, image1.text1 = .8
    per_image = (_neg_log_softmax([2.0, 1.2], 0) + _neg_log_softmax([0.0, 1.6], 1)) / 2
    per_text = (_neg_log_softmax([2.0, 0.0], 0) + _neg_log_softmax([1.2, 1.6], 1)) / 2
    assert loss(image, text).item() == pytest.approx((per_image + per_text) / 2, abs=1e-6)


def test_clip_loss_is_symmetric_and_scale_invariant():
    torch.manual_seed(0)
    image, text = torch.randn(5, 8), torch.randn(5, 8)
    loss = ClipLoss()
    assert loss(image, text).item() == pytest.approx(loss(text, image).item(), abs=1e-6)
    # Inputs are L2-normalised inside: the loss sees directions only.
    assert loss(3 * image, 0.5 * text).item() == pytest.approx(loss(image, text).item(), abs=1e-6)


def test_clip_logits_and_ground_truth():
    loss = ClipLoss(init_temperature=0.1)
    image, text = torch.eye(3), torch.eye(3)
    per_image, per_text = loss.get_logits(image, text)
    assert torch.allclose(per_image, 10 * torch.eye(3), atol=1e-5)
    assert torch.equal(per_text, per_image.T)
    assert torch.equal(loss.get_ground_truth(3, torch.device("cpu")), torch.arange(3))


def test_clip_temperature_is_learned_and_clamped():
    loss = ClipLoss(init_temperature=0.07, max_logit_scale=100.0)
    image, text = torch.randn(4, 6), torch.randn(4, 6)
    loss(image, text).backward()
    assert loss.logit_scale.grad is not None and loss.logit_scale.grad.item() != 0
    with torch.no_grad():
        loss.logit_scale.fill_(math.log(1000.0))
    assert loss.scale.item() == pytest.approx(100.0)
    assert loss.temperature == pytest.approx(0.01)
    fixed = ClipLoss(learn_temperature=False)
    assert not fixed.logit_scale.requires_grad


def test_clip_describes_itself_and_rejects_bad_input():
    loss = ClipLoss(init_temperature=0.05)
    assert loss.get_config_dict() == {"init_temperature": 0.05, "max_logit_scale": 100.0, "learn_temperature": True}
    assert "Radford" in loss.citation
    with pytest.raises(ValueError, match="rows must be pairs"):
        loss(torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="init_temperature must be positive"):
        ClipLoss(init_temperature=0)


# ---------------------------------------------------------------- NT-Xent


def _nt_xent_loop(a: torch.Tensor, b: torch.Tensor, temperature: float) -> float:
    z = [F.normalize(v, dim=0) for v in torch.cat([a, b])]
    n = len(a)
    total = 0.0
    for i in range(2 * n):
        partner = i + n if i < n else i - n
        # Every other embedding, never i itself.
        others = [j for j in range(2 * n) if j != i]
        logits = [float(z[i] @ z[j]) / temperature for j in others]
        total += _neg_log_softmax(logits, others.index(partner))
    return total / (2 * n)


def test_nt_xent_matches_python_loop_with_self_similarity_masked():
    torch.manual_seed(1)
    a, b = torch.randn(4, 5), torch.randn(4, 5)
    for temperature in (0.05, 0.5):
        assert NTXentLoss(temperature)(a, b).item() == pytest.approx(_nt_xent_loop(a, b, temperature), rel=1e-5)


def test_nt_xent_hand_value_on_two_pairs():
    # Orthogonal unit vectors: views of one example identical, different examples orthogonal.
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    tau = 0.5
    # Each row: partner cosine 1, the other two rows cosine 0, self masked.
    expected = _neg_log_softmax([1 / tau, 0.0, 0.0], 0)
    assert NTXentLoss(tau)(a, a.clone()).item() == pytest.approx(expected, abs=1e-6)


def test_nt_xent_rejects_bad_batches():
    with pytest.raises(ValueError, match="at least 2 examples"):
        NTXentLoss()(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(ValueError, match="same shape"):
        NTXentLoss()(torch.randn(2, 3), torch.randn(3, 3))
    assert NTXentLoss(0.1).get_config_dict() == {"temperature": 0.1}
    assert "SimCSE" in NTXentLoss.citation


# ---------------------------------------------------------------- InfoNCE


def test_info_nce_hand_value_with_two_negatives():
    anchor = torch.tensor([[1.0, 0.0]])
    positive = torch.tensor([[0.6, 0.8]])
    negatives = torch.tensor([[[0.0, 1.0], [-1.0, 0.0]]])
    tau = 0.1
    expected = _neg_log_softmax([0.6 / tau, 0.0 / tau, -1.0 / tau], 0)
    assert InfoNCELoss(tau)(anchor, positive, negatives).item() == pytest.approx(expected, abs=1e-5)


def test_info_nce_matches_loop_with_k_negatives():
    torch.manual_seed(2)
    n, k, d, tau = 3, 10, 6, 0.05
    anchor, positive, negatives = torch.randn(n, d), torch.randn(n, d), torch.randn(n, k, d)
    expected = 0.0
    for i in range(n):
        a = F.normalize(anchor[i], dim=0)
        logits = [float(a @ F.normalize(positive[i], dim=0)) / tau]
        logits += [float(a @ F.normalize(negatives[i, j], dim=0)) / tau for j in range(k)]
        expected += _neg_log_softmax(logits, 0)
    assert InfoNCELoss(tau)(anchor, positive, negatives).item() == pytest.approx(expected / n, rel=1e-5)
    assert InfoNCELoss(tau).get_logits(anchor, positive, negatives).shape == (n, k + 1)


def test_info_nce_names_bad_shapes():
    loss = InfoNCELoss()
    with pytest.raises(ValueError, match=r"negatives must be \[N, K, d\]"):
        loss(torch.randn(2, 4), torch.randn(2, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match="anchor and positive"):
        loss(torch.randn(2, 4), torch.randn(3, 4), torch.randn(2, 1, 4))
    with pytest.raises(ValueError, match="temperature must be positive"):
        InfoNCELoss(temperature=-1)
    assert "Oord" in InfoNCELoss.citation
