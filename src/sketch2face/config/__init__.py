"""Typed, validated pipeline parameters: the one place that knows what `params.yaml` may hold.

`schema` defines every key and its default, `messages` turns validation errors into one line per
bad key, `reader` reads the file as DVC does. Every stage loads the whole file through
`load_params`, so a typo or a bad value anywhere is reported before any work starts.
"""

from sketch2face.config.messages import ParamsError, parse_params
from sketch2face.config.reader import DEFAULT_PARAMS_PATH, load_params
from sketch2face.config.schema import (
    AlignmentParams,
    AssemblePairsParams,
    Channels,
    CropResizeParams,
    DeviceKind,
    Direction,
    DiscriminatorKind,
    EvaluateParams,
    GanLossKind,
    GeneratorKind,
    GroupAttribute,
    LrPolicy,
    NoFacePolicy,
    NormKind,
    Params,
    PerceptualMetric,
    Precision,
    ScoredGenerator,
    Seed,
    SketchSide,
    SourceKind,
    SourceParams,
    SplitMode,
    SsimWindow,
    StratifyColumn,
    SynthesizeParams,
    TrackingParams,
    TrainParams,
)

__all__ = [
    "DEFAULT_PARAMS_PATH",
    "AlignmentParams",
    "AssemblePairsParams",
    "Channels",
    "CropResizeParams",
    "DeviceKind",
    "Direction",
    "DiscriminatorKind",
    "EvaluateParams",
    "GanLossKind",
    "GeneratorKind",
    "GroupAttribute",
    "LrPolicy",
    "NoFacePolicy",
    "NormKind",
    "Params",
    "ParamsError",
    "PerceptualMetric",
    "Precision",
    "ScoredGenerator",
    "Seed",
    "SketchSide",
    "SourceKind",
    "SourceParams",
    "SplitMode",
    "SsimWindow",
    "StratifyColumn",
    "SynthesizeParams",
    "TrackingParams",
    "TrainParams",
    "load_params",
    "parse_params",
]
