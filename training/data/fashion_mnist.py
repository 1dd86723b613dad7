"""Fashion-MNIST from Debian's `dataset-fashion-mnist` package (IDX files, gzipped).

70,000 greyscale 28x28 images of 10 clothing classes: 60,000 train, 10,000
test. The IDX format is a 4-byte magic (two zero bytes, a dtype code, the
number of dimensions), one big-endian uint32 per dimension, then the values
big-endian in C order.
"""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# IDX dtype codes -> big-endian numpy dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IdxFormatError(ValueError):
    """An IDX file that does not follow the format; names the file and the field."""

    def __init__(self, path: str | Path, field: str, problem: str):
        self.path = str(path)
        self.field = field
        super().__init__(f"{path}: IDX {field} {problem}")


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (plain or .gz) into an array of its declared shape and dtype (native byte order)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file is missing")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        data = stream.read()
    if len(data) < 4:
        raise IdxFormatError(path, "magic", f"is truncated ({len(data)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise IdxFormatError(path, "magic", f"must start with two zero bytes, got {data[:2].hex()}")
    if code not in _IDX_DTYPES:
        raise IdxFormatError(path, "dtype", f"code 0x{code:02x} is unknown; expected one of {sorted(hex(c) for c in _IDX_DTYPES)}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(path, "dimensions", f"need {ndim} sizes but the file has {len(data)} bytes")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise IdxFormatError(path, "data", f"has {len(data) - header} bytes, shape {shape} needs {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx(root: Path, stem: str) -> Path:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        f"{root}: no {stem}(.gz); install Debian's dataset-fashion-mnist (files in {DEFAULT_ROOT}) or pass its folder"
    )


def load_fashion_mnist(root: str | Path = DEFAULT_ROOT, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [n, 28, 28], labels int64 [n]) of the `train` or `test` split."""
    if split not in _FILES:
        raise ValueError(f"split must be one of {sorted(_FILES)}, got {split!r}")
    root = Path(root)
    images_stem, labels_stem = _FILES[split]
    images = read_idx(find_idx(root, images_stem))
    labels = read_idx(find_idx(root, labels_stem))
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxFormatError(root / images_stem, "shape", f"must be uint8 [n, rows, cols], got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise IdxFormatError(root / labels_stem, "shape", f"must be [{len(images)}] to match the images, got {labels.shape}")
    if len(labels) and labels.max() >= len(FASHION_MNIST_CLASSES):
        raise IdxFormatError(root / labels_stem, "data", f"has label {labels.max()}, classes are 0..{len(FASHION_MNIST_CLASSES) - 1}")
    return images, labels.astype(np.int64)


def fashion_mnist_datasets(
    root: str | Path = DEFAULT_ROOT, train_limit: int | None = None, test_limit: int | None = None, seed: int = 0
) -> tuple["LabelledImages", "LabelledImages"]:
    """(train, test) LabelledImages with attribute `label`, optionally stratified subsamples of each split.

    Subsampling keeps runs within a CPU budget; the class proportions (all
    10 classes equal in Fashion-MNIST) are kept.
    """
    from vitrina.training.data.labelled_images import LabelledImages
    from vitrina.training.data.splits import stratified_subsample

    out = []
    for split, limit in (("train", train_limit), ("test", test_limit)):
        images, labels = load_fashion_mnist(root, split)
        if limit is not None:
            rows = stratified_subsample(labels, limit, seed)
            images, labels = images[rows], labels[rows]
        out.append(LabelledImages.from_arrays(
            images, {"label": (labels, FASHION_MNIST_CLASSES)}, id_prefix=f"fashion-mnist/{split}/", source=f"{root} ({split})"
        ))
    return out[0], out[1]
