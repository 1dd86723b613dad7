"""The build as a pipeline of named stages.

    catalogue -> encoders -> per space: embed -> index -> neighbours -> maps -> attributions
              -> items -> outliers -> manifest -> publish

`BuildState` carries what the stages share; each stage is a small function that reads what
earlier stages left on the state and adds its own output. `run_stages` times each one (the
build report's `timings_s`) and logs its start and end. A new stage is a function and one line in
`SPACE_STAGES` or `FINISH_STAGES`.
"""
from vitrina.indexer.pipeline.state import BuildState, SpaceState
from vitrina.indexer.pipeline.stages import FINISH_STAGES, SPACE_STAGES, Stage, run_stages

__all__ = ["FINISH_STAGES", "SPACE_STAGES", "BuildState", "SpaceState", "Stage", "run_stages"]
