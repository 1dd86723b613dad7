"""Contracts shared by every component: Arrow schemas, the bundle manifest, enums."""
from vitrina.schemas.arrow_schemas import (
    ITEMS_SCHEMA,
    SchemaMismatchError,
    check_schema,
    embeddings_schema,
    read_table_checked,
)
from vitrina.schemas.enums import Metric, Modality
from vitrina.schemas.manifest import (
    EncoderInfo,
    IndexInfo,
    Manifest,
    SpaceManifest,
    manifest_json_schema,
)

__all__ = [
    "ITEMS_SCHEMA",
    "EncoderInfo",
    "IndexInfo",
    "Manifest",
    "Metric",
    "Modality",
    "SchemaMismatchError",
    "SpaceManifest",
    "check_schema",
    "embeddings_schema",
    "manifest_json_schema",
    "read_table_checked",
]
