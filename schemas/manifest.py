"""The bundle manifest: a typed model, and the JSON Schema derived from it.

`manifest.schema.json` beside this file is generated from `Manifest` by
`python -m vitrina.schemas.manifest` and a test fails when it is stale, so
non-Python readers get a schema that matches what the indexer writes.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vitrina.schemas.enums import Metric, Modality

FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class EncoderInfo(_Strict):
    spec: str = Field(description="Spec string the encoder was created from, e.g. builtin:minilm-l6")
    modality: Modality
    dim: int = Field(gt=0)
    fingerprint: str = Field(description="Hash of weights + preprocessing; changes whenever either does")
    preprocessing: dict[str, Any] = Field(default_factory=dict)


class IndexInfo(_Strict):
    factory: str = Field(description="FAISS index_factory string, e.g. Flat, HNSW32, IVF256,Flat")
    search_params: dict[str, Any] = Field(default_factory=dict, description="Tuned parameters, e.g. efSearch")
    recall_at_10: float | None = Field(default=None, ge=0, le=1, description="Measured against exact search")
    recall_sample: int = Field(default=0, ge=0, description="Number of query vectors recall was measured on")
    build_seconds: float = Field(default=0.0, ge=0)


class SpaceManifest(_Strict):
    name: str
    indexed_modality: Modality = Field(description="Modality of the vectors stored in the index")
    encoders: dict[Modality, EncoderInfo] = Field(description="Encoders per query modality")
    dim: int = Field(gt=0)
    metric: Metric = Metric.COSINE
    rows: int = Field(ge=0)
    index: IndexInfo


class CatalogueInfo(_Strict):
    spec: str
    fingerprint: str = Field(description="Hash of all items' content hashes, in id order")
    items: int = Field(ge=0)
    report: dict[str, Any] = Field(default_factory=dict, description="Counts of skipped or degraded items")


class Manifest(_Strict):
    format_version: int = FORMAT_VERSION
    collection: str
    version: str
    parent: str | None = None
    created_at: datetime
    catalogue: CatalogueInfo
    spaces: dict[str, SpaceManifest]
    build: dict[str, Any] = Field(default_factory=dict, description="Library versions and timings")
    eval: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def read(cls, path: str | Path) -> "Manifest":
        path = Path(path)
        try:
            return cls.model_validate_json(path.read_text())
        except FileNotFoundError:
            raise
        except Exception as exc:  # pydantic.ValidationError or JSON errors
            raise ValueError(f"{path}: invalid manifest: {exc}") from exc


def manifest_json_schema() -> dict[str, Any]:
    return Manifest.model_json_schema()


if __name__ == "__main__":
    SCHEMA_PATH.write_text(json.dumps(manifest_json_schema(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SCHEMA_PATH}")
