"""The IDX reader and Fashion-MNIST loader on tiny generated files; the real package when installed."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from vitrina.training.data.fashion_mnist import (
    DEFAULT_ROOT,
    FASHION_MNIST_CLASSES,
    IdxFormatError,
    fashion_mnist_datasets,
    load_fashion_mnist,
    read_idx,
)

UBYTE = 0x08


def _idx_bytes(array: np.ndarray, code: int = UBYTE) -> bytes:
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def _write(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as stream:
            stream.write(data)
    else:
        path.write_bytes(data)
    return path


def write_tiny_fashion_mnist(root: Path, n_train: int = 40, n_test: int = 20) -> Path:
    """IDX files shaped like the real ones: 28x28 uint8 images, labels 0..9 in turn."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        _write(root / f"{stem}-images-idx3-ubyte.gz", _idx_bytes(images))
        _write(root / f"{stem}-labels-idx1-ubyte.gz", _idx_bytes(labels))
    return root


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
def test_read_idx_roundtrips_plain_and_gzip(tmp_path, name):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = _write(tmp_path / name, _idx_bytes(images))
    out = read_idx(path)
    np.testing.assert_array_equal(out, images)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)


def test_read_idx_other_dtypes_come_back_native_endian(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 0.0]], dtype=np.float32)
    out = read_idx(_write(tmp_path / "f.idx", _idx_bytes(values, 0x0D)))
    np.testing.assert_array_equal(out, values)
    assert out.dtype == np.dtype("float32")
    shorts = np.array([-3, 300], dtype=np.int16)
    np.testing.assert_array_equal(read_idx(_write(tmp_path / "s.idx", _idx_bytes(shorts, 0x0B))), shorts)


@pytest.mark.parametrize(
    "data, field",
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "dtype"),
        (b"\x00\x00\x08\x02" + struct.pack(">I", 2), "dimensions"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00\x01", "data"),
        (b"\x00\x00", "magic"),
    ],
)
def test_read_idx_errors_name_the_field(tmp_path, data, field):
    path = _write(tmp_path / "bad.idx", data)
    with pytest.raises(IdxFormatError, match=rf"IDX {field} ") as info:
        read_idx(path)
    assert info.value.field == field


def test_load_fashion_mnist_from_a_folder(tmp_path):
    root = write_tiny_fashion_mnist(tmp_path / "fm")
    images, labels = load_fashion_mnist(root, "train")
    assert images.shape == (40, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [i % 10 for i in range(40)]
    assert load_fashion_mnist(root, "test")[0].shape == (20, 28, 28)
    with pytest.raises(ValueError, match="split must be one of"):
        load_fashion_mnist(root, "valid")
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "nowhere")


def test_mismatched_label_count_is_refused(tmp_path):
    root = write_tiny_fashion_mnist(tmp_path / "fm")
    _write(root / "train-labels-idx1-ubyte.gz", _idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(IdxFormatError, match=r"must be \[40\] to match the images"):
        load_fashion_mnist(root, "train")


def test_datasets_subsample_stratified_and_decode_rgb(tmp_path):
    root = write_tiny_fashion_mnist(tmp_path / "fm")
    train, test = fashion_mnist_datasets(root, train_limit=20, test_limit=None, seed=0)
    assert len(train) == 20 and len(test) == 20
    assert np.bincount(train.codes("label"), minlength=10).tolist() == [2] * 10
    assert train.attribute("label").classes == FASHION_MNIST_CLASSES
    image = train.image(0)
    assert image.mode == "RGB" and image.size == (28, 28)
    assert train.ids[0].startswith("fashion-mnist/train/")


@pytest.mark.skipif(not DEFAULT_ROOT.exists(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_package_test_split():
    images, labels = load_fashion_mnist(DEFAULT_ROOT, "test")
    assert images.shape == (10_000, 28, 28)
    assert np.bincount(labels).tolist() == [1000] * 10
