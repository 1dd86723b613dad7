"""The explanation request and answer, shared by every transport (as models.py is for the rest)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

KINDS = ("words", "heatmap", "metadata")
HEATMAP_METHODS = ("integrated_gradients", "smoothgrad", "occlusion")
Kind = Literal["words", "heatmap", "metadata"]


class ExplainRequest(BaseModel):
    """Why `target` is close to a query or to another item, in one space.

    Exactly one of `query` (text) and `item` is the source. Without `target`, only `item`
    with kinds ["words"] is allowed: the item's own words (the map's hover).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    space: str = Field(description="Space whose similarity is explained (image, text, joint...)")
    query: str | None = Field(default=None, description="A text query (spaces with a text encoder)")
    item: str | None = Field(default=None, description="An item id, the other side of an item<->item pair")
    target: str | None = Field(default=None, description="The item whose closeness is explained (a hit)")
    kinds: list[Kind] = Field(default_factory=lambda: list(KINDS), min_length=1,
                              description="What to explain: words, heatmap, metadata")
    steps: int | None = Field(default=None, ge=1, description="Integrated Gradients interpolation steps; omitted: "
                              "words take as few as keep the completeness delta under 1% of the score change "
                              "(16, doubling up to 64), heatmaps 24")
    heatmap_method: Literal["integrated_gradients", "smoothgrad", "occlusion"] = "integrated_gradients"
    # Blur, not black: from a black image the white background that catalogue pictures share
    # earns credit too; on openclipart objects pasted onto white, IG put 0.86-1.00 of the mass
    # on the object from a blurred baseline, 0.35-0.87 from black.
    heatmap_baseline: Literal["blur", "black"] = Field(default="blur", description="What a heatmap removes: detail (blur) or everything (black)")
    reduction: Literal["sum", "l2"] = Field(default="sum", description="Per token: sum over dimensions (signed) or L2 norm")

    @classmethod
    def parse(cls, data: dict[str, Any]) -> "ExplainRequest":
        """Validate `data` (a transport without its own validation: gRPC), errors as InvalidArgument
        naming the field, as REST's 422 does."""
        from pydantic import ValidationError

        from vitrina.search_api.errors import InvalidArgument

        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first.get("loc", ())) or None
            message = first.get("msg", "invalid value")
            raise InvalidArgument(field, f"{field}: {message}" if field else message) from None

    @model_validator(mode="after")
    def _one_source(self) -> "ExplainRequest":
        if (self.query is None) == (self.item is None):
            raise ValueError("give exactly one of query and item as the source")
        if len(set(self.kinds)) != len(self.kinds):
            raise ValueError(f"kinds: each kind may appear once, got {self.kinds}")
        return self


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class WordScore(_View):
    word: str
    start: int = Field(description="Character offset of the word in `text`")
    end: int
    score: float = Field(description="Signed share of the similarity (reduction sum: the scores add up to score - baseline_score)")
    normalised: float = Field(description="score / sum of |score| over the words")


class WordsView(_View):
    side: Literal["query", "item", "target"] = Field(description="Whose text is attributed")
    id: str | None = Field(default=None, description="The item's id (None for the query)")
    against: Literal["query", "item", "target", "baseline"] = Field(description="The vector the similarity is to")
    text: str
    words: list[WordScore]
    score: float = Field(description="Cosine similarity being explained")
    baseline_score: float = Field(description="The same similarity for the empty ([PAD]) text")
    delta: float = Field(description="Completeness delta: sum of word scores - (score - baseline_score)")
    n_steps: int
    reduction: str
    precomputed: bool = Field(default=False, description="Read from the version's attributions/text.parquet")
    method: str = Field(default="integrated_gradients",
                        description="integrated_gradients, or gradient_x_input (one step: a build's precomputed hover)")


class HeatmapView(_View):
    side: Literal["item", "target"] = Field(description="Whose image is explained")
    id: str
    against: Literal["query", "item", "target"]
    method: str
    baseline: str
    n_steps: int | None
    score: float
    baseline_score: float
    delta: float | None
    shape: list[int] = Field(description="[rows, columns] of the grid over the image's content")
    grid: list[list[float]] = Field(description="Signed attribution per cell: > 0 raises the similarity")
    mass: list[list[float]] = Field(description="Positive part of grid, normalised to sum 1")
    box: list[float] = Field(description="The image region the grid covers (left, top, right, bottom) in pixels")
    image_size: list[int]
    png_url: str = Field(description="The image with the heatmap overlaid, PNG (GET)")


class SpaceScore(_View):
    space: str
    similarity: float | None = Field(description="Cosine similarity of the pair in this space (None: a side is absent)")
    rank: int | None = Field(description="Rank of the target among every item for the source in this space (1 = nearest)")
    of: int | None = Field(description="Items ranked")
    note: str | None = None


class MetadataView(_View):
    shared: dict[str, Any] = Field(description="Attributes with the same value on both items (lists: the common values)")
    differing: dict[str, dict[str, Any]] = Field(description="Attributes both items have, with different values")
    only_source: dict[str, Any]
    only_target: dict[str, Any]
    spaces: list[SpaceScore] = Field(description="The pair's similarity and rank in every space")


class SideView(_View):
    query: str | None = Field(default=None, description="The text query (a query source)")
    item: str | None = Field(default=None, description="The item's id (an item source, or the target)")
    title: str | None = None


class ExplainView(_View):
    bundle_version: str
    space: str
    source: SideView
    target: SideView | None
    similarity: float | None = Field(description="Cosine similarity of source and target in `space`")
    words: list[WordsView] = []
    heatmaps: list[HeatmapView] = []
    metadata: MetadataView | None = None
    skipped: dict[str, str] = Field(default_factory=dict, description="Kinds that do not apply here, and why")
    cached: bool = Field(default=False, description="Served from the explanation cache (no gradient work)")
    seconds: float = Field(description="Time spent computing (0 when cached)")
