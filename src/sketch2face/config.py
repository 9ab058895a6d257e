"""Typed, validated pipeline parameters: the one place that knows what `params.yaml` may hold.

Every stage loads the whole file through `load_params`, so a typo or a bad value anywhere is
reported before any work starts, naming each bad key and what is allowed.
"""

from __future__ import annotations

import difflib
import inspect
import re
from pathlib import Path
from typing import Annotated, Any, Hashable, Literal, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

DEFAULT_PARAMS_PATH = Path("params.yaml")


class ParamsError(ValueError):
    """Raised when `params.yaml` is missing, unparsable or holds invalid values."""


class _Section(BaseModel):
    """Base for every params section: unknown keys are errors, values are immutable.

    Strict: YAML's `true` is not taken for 1, nor `0` for false, nor "5" for 5, and no float is
    infinite or NaN. Paths and lists opt out, since YAML can only give them as strings and lists.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


Seed = Annotated[int, Field(ge=0, le=2**64 - 1, description="random seed (torch and numpy take 0 to 2^64-1)")]


def _non_empty_path(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must be a folder path, got an empty string")
    return value


FolderPath = Annotated[Path, Field(strict=False), BeforeValidator(_non_empty_path)]


def _integer(value: object) -> object:
    """Literal choices compare by equality, so `true` would pass for 1 and `9.0` for 9."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    return value


Channels = Annotated[Literal[1, 3], BeforeValidator(_integer)]


class SynthesizeParams(_Section):
    """The embedded demo dataset (procedural faces and sketches rendered from them)."""

    count: int = Field(360, ge=1, description="number of faces (photo/sketch pairs)")
    views_per_subject: int = Field(2, ge=1, description="faces per synthetic identity")
    image_size: int = Field(128, ge=32, le=1024, description="side of the square demo images")
    seed: Seed = 0


SourceKind = Literal["demo", "pairs", "cufs", "cufsf", "aligned"]
SketchSide = Literal["left", "right"]


class SourceParams(_Section):
    """One raw dataset to read; several may be mixed in one run."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="prefix of the record ids")
    kind: SourceKind
    root: FolderPath
    photos_root: FolderPath | None = Field(
        None, description="cufsf only: the colorFERET tree holding the colour photos (.ppm.bz2)"
    )
    sketch_side: SketchSide = Field("left", description="aligned only: which half of an AB image is the sketch")

    @model_validator(mode="after")
    def _kind_specific_keys(self) -> SourceParams:
        if self.kind == "cufsf" and self.photos_root is None:
            raise ValueError(f"source '{self.name}': kind cufsf needs photos_root (the colorFERET folder)")
        if self.kind != "cufsf" and self.photos_root is not None:
            raise ValueError(f"source '{self.name}': photos_root is only used by kind cufsf")
        if self.kind != "aligned" and "sketch_side" in self.model_fields_set:
            raise ValueError(f"source '{self.name}': sketch_side is only used by kind aligned")
        return self


NoFacePolicy = Literal["reject", "center_crop"]


class AlignmentParams(_Section):
    """Canonical geometry: where the eye centres land in the S x S output, and what to do without eyes."""

    eye_y: float = Field(0.42, gt=0.0, lt=1.0, description="eye line height, fraction of S")
    eye_distance: float = Field(0.36, gt=0.05, lt=0.9, description="inter-eye distance, fraction of S")
    detect: bool = Field(True, description="find the eyes with OpenCV when a dataset ships no landmarks")
    no_landmarks: NoFacePolicy = Field("center_crop", description="when no eyes are known or found")


class CropResizeParams(_Section):
    image_size: int = Field(64, ge=32, le=1024, description="S; the 70x70 PatchGAN needs at least 32")
    sources: tuple[SourceParams, ...] = Field(min_length=1, strict=False)
    alignment: AlignmentParams = AlignmentParams()
    workers: int = Field(0, ge=0, description="worker processes; 0 = one per CPU core")
    chunk_size: int = Field(8, ge=1, description="records handed to a worker at a time")
    contact_sheet_pairs: int = Field(24, ge=0, description="pairs shown per source in the contact sheet")
    min_image_side: int | None = Field(
        None, ge=8, le=8000,
        description="px; an input image with a shorter side is rejected as too small to hold a face; "
        "null: image_size / 4 (at least 8)",
    )

    @field_validator("image_size")
    @classmethod
    def _image_size_fits_unet(cls, size: int) -> int:
        if size & (size - 1):
            raise ValueError("must be a power of two (the U-Net halves it down to 1x1)")
        return size

    @model_validator(mode="after")
    def _unique_source_names(self) -> CropResizeParams:
        names = [source.name for source in self.sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique, repeated: {duplicates}")
        return self


SplitMode = Literal["random", "standard"]
StratifyColumn = Literal["source", "subset", "gender", "race"]


class AssemblePairsParams(_Section):
    """Subject-disjoint splits; `standard` keeps each dataset's published train/test split."""

    seed: Seed = 0
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="of the pairs split at random; of the published train set with split: standard")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="of all pairs without a published split")
    split: SplitMode = Field("random", description="random, or standard (published splits where known)")
    stratify: tuple[StratifyColumn, ...] = Field(
        ("source", "gender"), strict=False, description="manifest columns whose groups are split proportionally"
    )

    @model_validator(mode="after")
    def _leaves_training_data(self) -> AssemblePairsParams:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                "val_fraction + test_fraction must be < 1 so that training data remains, "
                f"got {self.val_fraction} + {self.test_fraction}"
            )
        return self


GeneratorKind = Literal["unet", "resnet"]
DiscriminatorKind = Literal["patch", "pixel"]
NormKind = Literal["batch", "instance", "none"]
GanLossKind = Literal["vanilla", "lsgan"]
LrPolicy = Literal["linear", "step", "cosine"]
Direction = Literal["sketch_to_photo", "photo_to_sketch"]
DeviceKind = Literal["auto", "cpu", "cuda", "mps"]
Precision = Literal["fp32", "bf16"]


class TrainParams(_Section):
    """pix2pix training; defaults follow Isola et al. 2017 except the epoch counts."""

    seed: Seed = 0
    direction: Direction = Field("sketch_to_photo", description="which half of the pair is the input")
    input_channels: Channels = 1
    output_channels: Channels = 3
    generator: GeneratorKind = Field("unet", description="unet: depth log2(S); resnet: Johnson et al.")
    resnet_blocks: Annotated[Literal[6, 9], BeforeValidator(_integer)] = Field(9, description="residual blocks of the resnet generator")
    discriminator: DiscriminatorKind = Field("patch", description="patch: PatchGAN; pixel: 1x1 PixelGAN")
    n_layers_d: int = Field(3, ge=1, le=6, description="PatchGAN depth; 3 gives 70x70 patches")
    norm: NormKind = "batch"
    gan_loss: GanLossKind = "vanilla"
    ngf: int = Field(64, ge=4, description="generator filters in the first layer")
    ndf: int = Field(64, ge=4, description="discriminator filters in the first layer")
    dropout: bool = True
    lambda_l1: float = Field(100.0, ge=0.0)
    lr: float = Field(2e-4, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    lr_policy: LrPolicy = Field("linear", description="shape of the decay after epochs_constant")
    lr_step_epochs: int = Field(50, ge=1, description="step policy: lr x 0.1 after each this many decay epochs")
    batch_size: int = Field(1, ge=1, description="per process; the global batch is batch_size x processes")
    epochs_constant: int = Field(10, ge=0, description="epochs at the initial learning rate")
    epochs_decay: int = Field(10, ge=0, description="epochs of decay towards zero")
    jitter: float = Field(286 / 256, ge=1.0, le=2.0, description="resize factor before the random crop")
    flip: bool = True
    checkpoint_every_steps: int = Field(500, ge=1, description="resume checkpoint interval (and at each end)")
    device: DeviceKind = Field("auto", description="auto: cuda, else mps, else cpu")
    precision: Precision = Field("fp32", description="bf16: autocast matmuls/convs to bfloat16")
    threads: int = Field(0, ge=0, description="CPU threads for torch; 0 keeps torch's default")

    @model_validator(mode="after")
    def _trains_at_least_one_epoch(self) -> TrainParams:
        if self.epochs_constant + self.epochs_decay < 1:
            raise ValueError("epochs_constant + epochs_decay must be at least 1")
        return self

    @model_validator(mode="after")
    def _step_policy_decays(self) -> TrainParams:
        """The step policy's first drop comes lr_step_epochs into the decay: it must come before the end."""
        if self.lr_policy == "step" and self.lr_step_epochs >= self.epochs_decay:
            raise ValueError(
                f"lr_policy step drops the lr after each lr_step_epochs ({self.lr_step_epochs}) decay epochs, "
                f"so lr_step_epochs must be < epochs_decay ({self.epochs_decay}) for the lr to decay at all"
            )
        return self

    @property
    def epochs(self) -> int:
        return self.epochs_constant + self.epochs_decay

    @property
    def min_image_size(self) -> int:
        """The PatchGAN halves n_layers_d times and loses 2 pixels in its last two convs."""
        return 3 * 2**self.n_layers_d if self.discriminator == "patch" else 4


SsimWindow = Literal["gaussian", "uniform"]
# the attributes the sources record (demo, cufs, cufsf, aligned); each dataset has some of them
GroupAttribute = Literal[
    "source", "subset", "gender", "race", "official_split", "folder_split",
    "tone_group", "hair_colour", "hair_style", "face_shape", "facial_hair",
]


PerceptualMetric = Literal["lpips", "fid"]
ScoredGenerator = Literal["last", "best"]


class EvaluateParams(_Section):
    generator: ScoredGenerator = Field(
        "last", description="last: the final epoch's generator.pt; best: generator_best.pt (lowest val L1)"
    )
    ssim_window: SsimWindow = Field(
        "gaussian", description="gaussian: sigma 1.5 (Wang et al. 2004); uniform: 7x7 (scikit-image)"
    )
    grid_size: int = Field(8, ge=1, description="test faces shown in each sample grid")
    batch_size: int = Field(16, ge=1, description="test images generated and scored at a time")
    workers: int = Field(0, ge=0, description="threads scoring chunks of test images; 0: one per CPU")
    group_attributes: tuple[GroupAttribute, ...] = Field(
        ("gender", "race", "tone_group", "subset", "source"),
        strict=False,
        description="pairs.csv columns whose groups get their own metrics; those a dataset lacks are skipped",
    )
    min_group_count: int = Field(5, ge=1, description="smallest group that takes part in a gap")
    identity_feature_size: int = Field(
        32, ge=8, le=256, description="side of the luma image the Eigenfaces recogniser sees"
    )
    perceptual_metrics: tuple[PerceptualMetric, ...] = Field(
        ("lpips", "fid"), strict=False, description="computed only when their weights are already in the torch hub cache"
    )


class TrackingParams(_Section):
    """What training leaves in MLflow besides params and metrics: the generator as an MLflow model."""

    log_model: bool = Field(True, description="log the generator as an MLflow model at the end of training")
    register_name: str | None = Field(
        None, pattern=r"^[^/:]+$", description="also register it under this name in the model registry"
    )
    alias: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]+$", description="point this alias of the registered model at the new version"
    )

    @model_validator(mode="after")
    def _alias_needs_a_registered_model(self) -> TrackingParams:
        if self.alias is not None:
            if self.register_name is None:
                raise ValueError("alias needs register_name: only registered models have aliases")
            if self.alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", self.alias):
                raise ValueError(f"alias {self.alias!r} is reserved by MLflow ('latest' and v<number>)")
        if self.register_name is not None and not self.log_model:
            raise ValueError("register_name needs log_model: true (only a logged model can be registered)")
        return self


class Params(_Section):
    synthesize: SynthesizeParams = SynthesizeParams()
    crop_resize: CropResizeParams
    assemble_pairs: AssemblePairsParams = AssemblePairsParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    tracking: TrackingParams = TrackingParams()

    @model_validator(mode="after")
    def _image_size_fits_the_discriminator(self) -> Params:
        size = self.crop_resize.image_size
        if size < self.train.min_image_size:
            raise ValueError(
                f"crop_resize.image_size {size} is too small for a PatchGAN with train.n_layers_d="
                f"{self.train.n_layers_d}: it needs at least {self.train.min_image_size}"
            )
        return self

TYPE_REQUIREMENTS = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "path_type": "must be a path",
    "model_type": "must be a mapping of keys (a section)",
    "model_attributes_type": "must be a mapping of keys (a section)",
    "dict_type": "must be a mapping of keys",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
}
RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
BOUND_SYMBOLS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
VALUE_ERROR_PREFIX = "Value error, "


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The params section class inside a field's type (`SourceParams` in `tuple[SourceParams, ...]`)."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    return next((model for arg in get_args(annotation) if (model := _model_in(arg))), None)


def _section_at(path: tuple) -> type[BaseModel] | None:
    """The section class that a key path such as ("crop_resize", "sources", 0) leads to."""
    model: type[BaseModel] | None = Params
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        model = _model_in(field.annotation) if field else None
    return model


def _field_at(location: tuple) -> FieldInfo | None:
    section = _section_at(location[:-1]) if location else None
    return section.model_fields.get(location[-1]) if section and isinstance(location[-1], str) else None


def _bounds(field: FieldInfo | None) -> str:
    """'> 0 and <= 1' from a field's constraints, so a range error states the whole allowed range."""
    limits = [
        f"{symbol} {getattr(item, name)}"
        for item in (field.metadata if field else ())
        for name, symbol in BOUND_SYMBOLS.items()
        if getattr(item, name, None) is not None
    ]
    return " and ".join(limits)


def _unknown_key(location: tuple) -> str:
    section = _section_at(location[:-1])
    allowed = list(section.model_fields) if section else []
    close = difflib.get_close_matches(str(location[-1]), allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown key{hint}; allowed keys: {', '.join(allowed)}"


def _describe(error: dict) -> str:
    """One line per bad key: where it is, what is wrong, and what would be allowed instead."""
    location = tuple(error["loc"])
    name = ".".join(str(part) for part in location) or "(top level)"
    kind = error["type"]
    got = f" (got {error.get('input')!r})"
    if kind == "extra_forbidden":
        return f"{name}: {_unknown_key(location)}"
    if kind == "missing":
        return f"{name}: required key is missing"
    if kind == "literal_error":
        return f"{name}: must be one of {error['ctx']['expected']}{got}"
    if kind in RANGE_ERRORS:
        return f"{name}: out of range, allowed: {_bounds(_field_at(location)) or error['msg']}{got}"
    if kind == "string_pattern_mismatch":
        return f"{name}: must match the pattern {error['ctx']['pattern']}{got}"
    if kind in TYPE_REQUIREMENTS:
        bounds = _bounds(_field_at(location))
        return f"{name}: {TYPE_REQUIREMENTS[kind]}{f' {bounds}' if bounds else ''}{got}"
    if kind == "too_short":
        return f"{name}: must have at least {error['ctx']['min_length']} item(s){got}"
    message = error["msg"].removeprefix(VALUE_ERROR_PREFIX)
    field = _field_at(location)
    is_value = field is not None and _model_in(field.annotation) is None  # a whole section is not echoed
    return f"{name}: {message}{got if is_value else ''}"


def _is_consequence(error: dict, errors: list[dict]) -> bool:
    """A 'list too short' that only says its items failed, which are reported themselves."""
    location = tuple(error["loc"])
    return error["type"] == "too_short" and any(
        tuple(other["loc"])[: len(location)] == location and len(other["loc"]) > len(location) for other in errors
    )


def parse_params(raw: object, origin: str = "params") -> Params:
    """Validates an already-parsed mapping; every problem is listed, not just the first."""
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [_describe(error) for error in errors if not _is_consequence(error, errors)]
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise ParamsError(f"{origin}: {len(problems)} invalid value(s):\n{listing}") from None


MERGE_TAG = "tag:yaml.org,2002:merge"
FLOAT_TAG = "tag:yaml.org,2002:float"
# YAML 1.2 floats that PyYAML's YAML 1.1 rules read as strings: `2e-4`, `1.0e4` (DVC reads them as numbers)
EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _Yaml12Loader(yaml.SafeLoader):
    """A safe loader that reads `lr: 2e-4` as DVC does (a number) and refuses a key given twice
    in one mapping (plain YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *anchor`: its keys may be overridden here
                continue
            key = self.construct_object(key_node, deep=deep)
            problem = None
            if not isinstance(key, Hashable):
                problem = f"found an unhashable key {key!r}"
            elif key in seen:
                problem = f"found the key {key!r} twice"
            if problem:
                raise yaml.constructor.ConstructorError("while reading a mapping", node.start_mark, problem, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Yaml12Loader.add_implicit_resolver(FLOAT_TAG, EXPONENT_FLOAT, list("-+0123456789"))

def load_params(path: Path | str = DEFAULT_PARAMS_PATH) -> Params:
    """Reads and validates `params.yaml`."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return parse_params(raw, origin=str(path))
