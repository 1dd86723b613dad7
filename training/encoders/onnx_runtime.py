"""`--runtime onnx`: the PyTorch encoders' forward pass run by ONNX Runtime on CPU.

Only the forward pass moves: preprocessing, tokenising, batching and L2 normalisation stay in
torch_base, so both runtimes give the same vectors (cosine >= 0.9999 against torch fp32, tested)
and keep the encoder's fingerprint. A bundle built under one runtime is served under the other.
The torch model stays loaded beside the session, because explanations need its gradients.

`onnx-int8` quantises the weights dynamically. Its vectors drift (MiniLM's mean cosine against
fp32 was measured at 0.94-0.96), so it gets its own fingerprint and is never mixed with fp32
vectors.

Exports are cached by fingerprint, variant and exporter versions under `$VITRINA_CACHE/onnx`
(default ~/.cache/vitrina), since exporting MiniLM or EfficientNet-Lite0 takes a few seconds.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from vitrina.schemas.enums import ENCODER_RUNTIMES
from vitrina.training.encoders.base import l2_normalise
from vitrina.training.encoders.errors import EncoderSpecError
from vitrina.training.encoders.fingerprint import make_fingerprint

log = logging.getLogger(__name__)

RUNTIMES = ENCODER_RUNTIMES
# 17 is what every ONNX Runtime since 1.15 runs fully, and the legacy exporter's best-tested opset.
ONNX_OPSET = 17
_EXPORT_FORMAT = 1  # bumped when the wrappers below change what an exported graph computes
# An export is refused unless it matches torch this closely on inputs it was not traced with.
MIN_EXPORT_COSINE = 0.9999
# Other lengths and another batch size than the trace's example.
_CHECK_TEXTS = ["one", "three words here", "a much longer text than any the export was traced with, "
                "so that padding, masking and positions are all exercised at another length"]


def cache_root() -> Path:
    return Path(os.environ.get("VITRINA_CACHE", Path.home() / ".cache" / "vitrina")) / "onnx"


def check_runtime(runtime: str) -> str:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    return runtime


def use_runtime(encoder, runtime: str, threads: int | None = None, cache: Path | None = None):
    """`encoder`, with its forward pass on ONNX Runtime unless `runtime` is "torch".

    A joint tower's base encoder is the one that runs a network (the head is one small matmul),
    so the base is converted. Raises EncoderSpecError when the encoder cannot run there.
    """
    from vitrina.training.encoders.ckpt import JointImageEncoder, JointTextEncoder
    from vitrina.training.encoders.torch_base import TorchImageEncoder, TorchTextEncoder

    if check_runtime(runtime) == "torch":
        return encoder
    target = encoder.base if isinstance(encoder, (JointImageEncoder, JointTextEncoder)) else encoder
    if target is not encoder and runtime == "onnx-int8":
        # A tower's fingerprint is derived from its base's when it loads: int8 would leave it stale.
        raise EncoderSpecError(encoder.spec, "joint towers run under 'onnx' or 'torch', not 'onnx-int8'")
    if not isinstance(target, (TorchImageEncoder, TorchTextEncoder)):
        raise EncoderSpecError(encoder.spec, f"runtime {runtime!r} needs a PyTorch encoder, not {type(target).__name__}")
    if target.device.type != "cpu":
        raise EncoderSpecError(encoder.spec, f"runtime {runtime!r} runs on CPU; this encoder is on {target.device} "
                                             "(use --runtime torch on GPUs)")
    session = OnnxForward.export(target, quantize=runtime == "onnx-int8", threads=threads, cache=cache)
    target.run_forward_with(session)
    if runtime == "onnx-int8":
        target.requantised(make_fingerprint("OnnxDynamicInt8", target.fingerprint, {}), {"runtime": runtime})
    return encoder


class _PixelsForward(torch.nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.encoder, self.model = encoder, encoder.model

    def forward(self, pixels):
        return self.encoder._embed_pixels(pixels)


class _TokensForward(torch.nn.Module):
    def __init__(self, encoder, names: Sequence[str]):
        super().__init__()
        self.encoder, self.model, self.names = encoder, encoder.model, list(names)

    def forward(self, *tensors):
        return self.encoder._embed_tokens(dict(zip(self.names, tensors)))


def _blank_image():
    from PIL import Image

    return Image.new("RGB", (64, 48), (200, 120, 40))


def _example_inputs(encoder) -> tuple[torch.nn.Module, dict[str, torch.Tensor], dict[str, dict[int, str]]]:
    """The wrapper to trace, named example inputs and their dynamic axes."""
    from vitrina.training.encoders.torch_base import TorchImageEncoder

    if isinstance(encoder, TorchImageEncoder):
        # The preprocessor's own output fixes the pixel size the graph is traced at.
        pixels = encoder.preprocess(_blank_image())
        inputs = {"pixels": torch.from_numpy(np.stack([pixels, pixels * 0.5]))}
        return _PixelsForward(encoder), inputs, {"pixels": {0: "batch"}}
    # Two lengths, so the trace carries padding and masking rather than one fixed shape.
    inputs = encoder.tokenize(["a short text", "a somewhat longer text with more words in it"])
    return _TokensForward(encoder, list(inputs)), inputs, {name: {0: "batch", 1: "tokens"} for name in inputs}


def _export_key(encoder, quantize: bool) -> str:
    import onnxruntime

    versions = f"{torch.__version__}|{onnxruntime.__version__}|{ONNX_OPSET}|{_EXPORT_FORMAT}"
    variant = "int8" if quantize else "fp32"
    return f"{encoder.fingerprint}-{variant}-{hashlib.sha256(versions.encode()).hexdigest()[:8]}"


def _export(encoder, path: Path) -> None:
    wrapper, inputs, axes = _example_inputs(encoder)
    # The wrapper is a fresh module in training mode; export restores the mode it found on every
    # submodule, the encoder's model included, so both are put in eval mode first and after.
    wrapper.eval()
    try:
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            staged = Path(tmp) / path.name
            with warnings.catch_warnings():
                # Tracer warnings about Python branches on shapes: _check_export below is the real test.
                warnings.simplefilter("ignore")
                torch.onnx.export(wrapper, tuple(inputs.values()), str(staged), dynamo=False,
                                  opset_version=ONNX_OPSET, input_names=list(inputs), output_names=["embedding"],
                                  dynamic_axes={**axes, "embedding": {0: "batch"}})
            _check_export(encoder, OnnxForward(staged, threads=1))
            os.replace(staged, path)
    except EncoderSpecError:
        raise
    except Exception as exc:  # the exporter raises many kinds; all mean "this model does not export"
        raise EncoderSpecError(encoder.spec, f"cannot export to ONNX ({type(exc).__name__}: {exc}); "
                                             "use --runtime torch") from exc
    finally:
        encoder.model.eval()


def _check_export(encoder, forward: "OnnxForward") -> None:
    """Refuse a graph that differs from torch on inputs it was not traced with.

    A trace freezes Python decisions taken on the example's shapes; where a model branches on
    them (masking, interpolation), other batch sizes or lengths would silently get other vectors.
    """
    from vitrina.training.encoders.torch_base import TorchImageEncoder

    if isinstance(encoder, TorchImageEncoder):
        pixels = np.random.default_rng(0).uniform(-1, 1, (3, *encoder.preprocess(
            _blank_image()).shape)).astype(np.float32)
        with torch.inference_mode():
            expected = encoder._embed_pixels(torch.from_numpy(pixels).to(encoder.device)).float().numpy()
        got = forward.run({"pixels": pixels})
    else:
        tokens = encoder.tokenize(_CHECK_TEXTS)
        with torch.inference_mode():
            expected = encoder._embed_tokens(tokens).float().numpy()
        got = forward.run({name: value.numpy() for name, value in tokens.items()})
    cosine = np.sum(l2_normalise(expected) * l2_normalise(got), axis=1)
    if not np.all(cosine >= MIN_EXPORT_COSINE):
        raise EncoderSpecError(encoder.spec, f"its ONNX export computes other vectors than torch (cosine "
                                             f"{float(cosine.min()):.4f} < {MIN_EXPORT_COSINE}); use --runtime torch")


def _quantise(source: Path, path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        quantize_dynamic(str(source), str(staged), weight_type=QuantType.QInt8)
        os.replace(staged, path)


class OnnxForward:
    """An InferenceSession computing an encoder's `_embed_pixels` or `_embed_tokens`."""

    def __init__(self, path: Path, threads: int | None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        # torch's thread count is what the build and the Ray workers pin; the server passes its own.
        options.intra_op_num_threads = max(1, threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.path = path
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    @classmethod
    def export(cls, encoder, quantize: bool = False, threads: int | None = None, cache: Path | None = None) -> "OnnxForward":
        folder = cache or cache_root()
        folder.mkdir(parents=True, exist_ok=True)
        key = _export_key(encoder, quantize)
        path = folder / f"{key}.onnx"
        if not path.is_file():
            fp32 = folder / f"{_export_key(encoder, False)}.onnx"
            if not fp32.is_file():
                log.info("exporting encoder to ONNX", extra={"spec": encoder.spec, "path": str(fp32)})
                _export(encoder, fp32)
            if quantize:
                _quantise(fp32, path)
        return cls(path, threads)

    def run(self, inputs: dict[str, Any]) -> np.ndarray:
        feed = {name: np.ascontiguousarray(inputs[name]) for name in self.input_names}
        return self.session.run(None, feed)[0]
