"""Server settings: one typed model, validated once at startup.

pydantic-settings is not a dependency, so `Settings.from_env` reads the
`VITRINA_*` variables itself; explicit keyword arguments (from the CLI or a
test) win over the environment.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vitrina.schemas.enums import ENCODER_RUNTIMES
from vitrina.training.images import DEFAULT_MAX_PIXELS

ENV_PREFIX = "VITRINA_"
MiB = 1 << 20


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bundles_root: Path | None = Field(default=None, description="Folder holding one folder per collection")
    collection: str | None = Field(default=None, description="Collection served; its CURRENT version loads at startup")
    preload_encoders: bool = Field(default=True, description="Create query encoders at load, not on the first query")
    use_gpu: bool | None = Field(default=None, description="FAISS on GPU; None: when one is visible")
    faiss_threads: int = Field(
        default=1,
        ge=0,
        description="OpenMP threads per FAISS search (0: FAISS default). The server parallelises across "
        "requests; a 2-thread fork/join around one small query measured 12 ms instead of 1 ms here",
    )

    encoder_runtime: Literal[ENCODER_RUNTIMES] = Field(
        default="torch",
        description="What runs the query encoders' forward pass: torch, onnx (ONNX Runtime: same vectors, a "
        "text query encoded in half the time) or onnx-int8 (only for bundles built with it)",
    )
    encoder_threads: int = Field(
        default=1, ge=0,
        description="Threads of each ONNX Runtime query encoder (0: as many as torch uses). One leaves the "
        "other cores to concurrent requests: text search at 4 connections served 126 req/s against 73 with "
        "two threads on 2 cores (docs/benchmarks.md 12.8)",
    )
    query_batch_max: int = Field(
        default=32, ge=1,
        description="Most concurrent text or image queries encoded in one batch (1: each alone). A lane per "
        "encoder takes whatever queued while its last batch ran",
    )
    query_batch_window_ms: float = Field(
        default=0.0, ge=0,
        description="How long a lane waits for more queries after the first (0: none; it batches what "
        "arrived while the encoder was busy)",
    )

    max_k: int = Field(default=1000, ge=1, description="Largest k a search may ask for")
    max_batch_queries: int = Field(default=256, ge=1, description="Most queries or ids one batch request may hold")
    max_outliers: int = Field(default=1000, ge=1, description="Largest limit an outlier listing may ask for")
    max_cluster_items: int = Field(default=1000, ge=1, description="Largest limit a cluster's item listing may ask for")
    cluster_cache_entries: int = Field(default=64, ge=0, description="Clusters whose member order is kept between pages")
    max_query_chars: int = Field(default=1000, ge=1)
    max_upload_bytes: int = Field(default=10 * MiB, ge=1, description="Largest image upload")
    max_image_pixels: int = Field(default=DEFAULT_MAX_PIXELS, ge=1, description="Decompression-bomb guard for images")

    thumbnail_min: int = Field(default=16, ge=1)
    thumbnail_max: int = Field(default=1024, ge=1)
    thumbnail_cache_entries: int = Field(default=512, ge=0)
    thumbnail_max_age_s: int = Field(default=3600, ge=0, description="Cache-Control max-age of thumbnails")
    filter_cache_entries: int = Field(default=256, ge=0)

    explain_workers: int = Field(default=1, ge=1, description="Threads computing explanations (apart from search's)")
    explain_queue: int = Field(default=4, ge=0, description="Explanations that may wait for a worker; more get 429")
    explain_timeout_s: float = Field(default=120.0, gt=0, description="Longest an explanation may take")
    explain_max_steps: int = Field(default=200, ge=1, description="Most Integrated Gradients steps a request may ask for")
    explain_cache_entries: int = Field(default=256, ge=0, description="Explanations kept per (version, request)")
    heatmap_cache_entries: int = Field(default=512, ge=0, description="Heatmaps kept for their PNG URL")

    # repr=False: settings get logged and printed; keys must not be.
    api_keys: frozenset[str] = Field(
        default=frozenset(),
        repr=False,
        description="Keys that authorise admin calls (reload), and reads too with require_key_for_reads; "
        "VITRINA_API_KEYS takes them comma-separated. None configured: the admin API is refused",
    )
    require_key_for_reads: bool = Field(default=False, description="Ask for an API key on every read as well")
    cors_origins: tuple[str, ...] = Field(
        default=(), description="Origins browsers may call the REST API from ('*': any); VITRINA_CORS_ORIGINS comma-separated"
    )
    request_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Longest a request may take before 504 / DEADLINE_EXCEEDED (None: no limit); admin calls "
        "are exempt. Work already running finishes in its thread: the limit bounds the wait, not the CPU",
    )
    watch_current_s: float | None = Field(
        default=None, gt=0, description="Poll the collection's CURRENT this often and reload when it changes (None: never)"
    )
    workers: int = Field(
        default=1, ge=1, description="Server processes on the same ports (--workers); past one, every worker follows "
        "CURRENT and a reload may not name another version"
    )
    shared_heatmap_dir: Path | None = Field(
        default=None, description="Where worker processes leave heatmap PNGs for each other (set by --workers): an "
        "explanation's png_url may be fetched on a connection another worker accepted"
    )

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # The environment spells a set as "a,b"; empty items (a trailing comma) are dropped.
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple, set, frozenset)):
            return [v.strip() if isinstance(v, str) else v for v in value if not isinstance(v, str) or v.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.require_key_for_reads and not self.api_keys:
            raise ValueError("require_key_for_reads needs at least one API key (api_keys / VITRINA_API_KEYS)")
        if (self.bundles_root is None) != (self.collection is None):
            raise ValueError("give both bundles_root and collection, or neither (a holder is then passed in)")
        if self.collection is not None:
            from vitrina.schemas.bundle_layout import check_name

            check_name(self.collection, "collection")
        if self.thumbnail_min > self.thumbnail_max:
            raise ValueError(f"thumbnail_min ({self.thumbnail_min}) is above thumbnail_max ({self.thumbnail_max})")
        return self

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        """Fields from `VITRINA_<FIELD>` variables, then `overrides` (None values are ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = environ.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
