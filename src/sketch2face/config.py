"""Typed, validated pipeline parameters: the one place that knows what `params.yaml` may hold.

Every stage loads the whole file through `load_params`, so a typo or a bad value anywhere is
reported before any work starts, naming each bad key and what is allowed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_PARAMS_PATH = Path("params.yaml")


class ParamsError(ValueError):
    """Raised when `params.yaml` is missing, unparsable or holds invalid values."""


class _Section(BaseModel):
    """Base for every params section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SynthesizeParams(_Section):
    """The embedded demo dataset (procedural faces and sketches rendered from them)."""

    count: int = Field(360, ge=1, description="number of faces (photo/sketch pairs)")
    views_per_subject: int = Field(2, ge=1, description="faces per synthetic identity")
    image_size: int = Field(128, ge=32, le=1024, description="side of the square demo images")
    seed: int = 0


SourceKind = Literal["demo", "pairs"]


class SourceParams(_Section):
    """One raw dataset to read; several may be mixed in one run."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="prefix of the record ids")
    kind: SourceKind
    root: Path


NoFacePolicy = Literal["reject", "center_crop"]


class AlignmentParams(_Section):
    """Canonical geometry: where the eye centres land in the S x S output."""

    eye_y: float = Field(0.42, gt=0.0, lt=1.0, description="eye line height, fraction of S")
    eye_distance: float = Field(0.36, gt=0.05, lt=0.9, description="inter-eye distance, fraction of S")
    no_landmarks: NoFacePolicy = "center_crop"


class CropResizeParams(_Section):
    image_size: int = Field(64, ge=32, le=1024, description="S; the 70x70 PatchGAN needs at least 32")
    sources: tuple[SourceParams, ...] = Field(min_length=1)
    alignment: AlignmentParams = AlignmentParams()

    @model_validator(mode="after")
    def _unique_source_names(self) -> CropResizeParams:
        names = [source.name for source in self.sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique, repeated: {duplicates}")
        return self


class AssemblePairsParams(_Section):
    seed: int = 0
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _leaves_training_data(self) -> AssemblePairsParams:
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(
                "val_fraction + test_fraction must be < 1 so that training data remains, "
                f"got {self.val_fraction} + {self.test_fraction}"
            )
        return self


class TrainParams(_Section):
    """pix2pix training; defaults follow Isola et al. 2017 except the epoch counts."""

    seed: int = 0
    input_channels: Literal[1, 3] = 1
    output_channels: Literal[1, 3] = 3
    ngf: int = Field(64, ge=4, description="generator filters in the first layer")
    ndf: int = Field(64, ge=4, description="discriminator filters in the first layer")
    dropout: bool = True
    lambda_l1: float = Field(100.0, ge=0.0)
    lr: float = Field(2e-4, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    batch_size: int = Field(1, ge=1)
    epochs_constant: int = Field(10, ge=0, description="epochs at the initial learning rate")
    epochs_decay: int = Field(10, ge=0, description="epochs of linear decay to zero")
    jitter: float = Field(286 / 256, ge=1.0, le=2.0, description="resize factor before the random crop")
    flip: bool = True
    threads: int = Field(0, ge=0, description="CPU threads for torch; 0 keeps torch's default")

    @model_validator(mode="after")
    def _trains_at_least_one_epoch(self) -> TrainParams:
        if self.epochs_constant + self.epochs_decay < 1:
            raise ValueError("epochs_constant + epochs_decay must be at least 1")
        return self

    @property
    def epochs(self) -> int:
        return self.epochs_constant + self.epochs_decay


SsimWindow = Literal["gaussian", "uniform"]


PerceptualMetric = Literal["lpips", "fid"]


class EvaluateParams(_Section):
    ssim_window: SsimWindow = Field(
        "gaussian", description="gaussian: sigma 1.5 (Wang et al. 2004); uniform: 7x7 (scikit-image)"
    )
    grid_size: int = Field(8, ge=1, description="test faces shown in each sample grid")
    batch_size: int = Field(16, ge=1, description="test images generated and scored at a time")
    workers: int = Field(0, ge=0, description="threads scoring chunks of test images; 0: one per CPU")
    group_attributes: tuple[str, ...] = Field(
        ("gender", "race", "tone_group", "subset", "source"),
        description="pairs.csv columns whose groups get their own metrics; absent ones are skipped",
    )
    min_group_count: int = Field(5, ge=1, description="smallest group that takes part in a gap")
    identity_feature_size: int = Field(
        32, ge=8, le=256, description="side of the luma image the PCA+LDA face recogniser sees"
    )
    perceptual_metrics: tuple[PerceptualMetric, ...] = Field(
        ("lpips", "fid"), description="computed only when their weights are already in the torch hub cache"
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
    def _image_size_fits_unet(self) -> Params:
        size = self.crop_resize.image_size
        if size & (size - 1):
            raise ValueError(
                f"crop_resize.image_size must be a power of two (the U-Net halves it down to 1x1), got {size}"
            )
        return self


def _describe(error: dict) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{location}: unknown key"
    if error["type"] == "missing":
        return f"{location}: required key is missing"
    return f"{location}: {error['msg']} (got {error.get('input')!r})"


def parse_params(raw: object, origin: str = "params") -> Params:
    """Validates an already-parsed mapping; every problem is listed, not just the first."""
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "\n".join(f"  - {_describe(error)}" for error in exc.errors())
        raise ParamsError(f"{origin}: {exc.error_count()} invalid value(s):\n{problems}") from None


def load_params(path: Path | str = DEFAULT_PARAMS_PATH) -> Params:
    """Reads and validates `params.yaml`."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, origin=str(path))
