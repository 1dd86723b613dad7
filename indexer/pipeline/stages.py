"""The stage list and the loop that runs it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from vitrina.indexer.pipeline import finish_stages as finish
from vitrina.indexer.pipeline import space_stages as per_space
from vitrina.indexer.pipeline.state import BuildState, SpaceState
from vitrina.schemas import Modality


@dataclass(frozen=True)
class Stage:
    """A named step. `timed` stages appear in the report's `timings_s` (per space as
    `<name>:<space>`); `wanted` decides from the options (and the space) whether it runs."""

    name: str
    run: Callable[..., None]
    wanted: Callable[..., bool] = lambda *_: True
    timed: bool = True


SPACE_STAGES: tuple[Stage, ...] = (
    Stage("embed", per_space.embed),
    Stage("index", per_space.index),
    Stage("neighbours", per_space.neighbours, lambda state, space: state.options.neighbours_k > 0),
    Stage("maps", per_space.maps, lambda state, space: bool(state.options.projections)),
    Stage("attributions", per_space.attributions,
          lambda state, space: space.indexed is Modality.TEXT and state.options.attribution_steps > 0),
    Stage("record", per_space.record, timed=False),
)

FINISH_STAGES: tuple[Stage, ...] = (
    Stage("images", finish.mark_images, timed=False),
    Stage("write", finish.write_items),
    Stage("outliers", finish.outliers),
    Stage("write", finish.write_manifest_and_report),
    Stage("publish", finish.publish_version, timed=False),
)


def run_stages(state: BuildState, stages: tuple[Stage, ...], space: SpaceState | None = None) -> None:
    args = (state,) if space is None else (state, space)
    for stage in stages:
        if not stage.wanted(*args):
            continue
        if not stage.timed:
            stage.run(*args)
            continue
        with state.timer.stage(stage.name if space is None else f"{stage.name}:{space.name}"):
            stage.run(*args)
