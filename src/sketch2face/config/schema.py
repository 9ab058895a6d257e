"""The params schema: every key `params.yaml` may hold, its type, its allowed range and its default.

The defaults here are the one source of defaults: the committed `params.yaml` spells out exactly
these values (a test holds them equal), and the networks' configs are built from them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator


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
        None,
        ge=8,
        le=8000,
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
    val_fraction: float = Field(
        0.1, ge=0.0, lt=1.0, description="of the pairs split at random; of the published train set with split: standard"
    )
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
Upsample = Literal["transposed", "resize"]
Augmentation = Literal["translation", "cutout", "colour"]
HintName = Literal["skin", "hair"]
HINT_NAMES: tuple[str, ...] = get_args(HintName)
HintInjection = Literal["channels", "film"]


class TrainParams(_Section):
    """pix2pix training. Defaults: the paper's losses and optimiser with the recommended recipe on top, smaller
    networks, batch 4 and 64 px images for the CPU demo (PAPER_PIX2PIX turns the recipe off)."""

    seed: Seed = 0
    direction: Direction = Field("sketch_to_photo", description="which half of the pair is the input")
    input_channels: Channels = 1
    output_channels: Channels = 3
    generator: GeneratorKind = Field("unet", description="unet: depth log2(S); resnet: Johnson et al.")
    resnet_blocks: Annotated[Literal[6, 9], BeforeValidator(_integer)] = Field(
        9, description="residual blocks of the resnet generator"
    )
    discriminator: DiscriminatorKind = Field("patch", description="patch: PatchGAN; pixel: 1x1 PixelGAN")
    n_layers_d: int = Field(3, ge=1, le=6, description="PatchGAN depth; 3 gives 70x70 patches")
    norm: NormKind = "batch"
    gan_loss: GanLossKind = "vanilla"
    ngf: int = Field(32, ge=4, description="generator filters in the first layer (64 in the paper)")
    ndf: int = Field(32, ge=4, description="discriminator filters in the first layer (64 in the paper)")
    dropout: bool = True
    lambda_l1: float = Field(100.0, ge=0.0)
    lr: float = Field(2e-4, gt=0.0, le=1.0)
    beta1: float = Field(0.5, ge=0.0, lt=1.0)
    lr_policy: LrPolicy = Field("linear", description="shape of the decay after epochs_constant")
    lr_step_epochs: int = Field(50, ge=1, description="step policy: lr x 0.1 after each this many decay epochs")
    batch_size: int = Field(4, ge=1, description="per process (1 in the paper); the global batch is x processes")
    epochs_constant: int = Field(15, ge=0, description="epochs at the initial learning rate")
    epochs_decay: int = Field(15, ge=0, description="epochs of decay towards zero")
    jitter: float = Field(286 / 256, ge=1.0, le=2.0, description="resize factor before the random crop")
    flip: bool = True
    checkpoint_every_steps: int = Field(200, ge=1, description="resume checkpoint interval (and at each end)")
    device: DeviceKind = Field("auto", description="auto: cuda, else mps, else cpu")
    precision: Precision = Field("fp32", description="bf16: autocast matmuls/convs to bfloat16")
    threads: int = Field(0, ge=0, description="CPU threads for torch; 0 keeps torch's default")
    # Beyond the paper. The defaults are the recommended recipe (README); PAPER_PIX2PIX gives the paper's model.
    upsample: Upsample = Field(
        "resize", description="decoder upsampling: transposed convolution, or resize x2 then 3x3 convolution"
    )
    ema_decay: float = Field(0.995, ge=0.0, lt=1.0, description="generator weight averaging; 0 is off")
    discriminator_scales: int = Field(1, ge=1, le=3, description="PatchGANs on the pair at full, 1/2 and 1/4 size")
    lambda_feature_matching: float = Field(0.0, ge=0.0, description="weight of matching D's features of real pairs")
    spectral_norm: bool = Field(False, description="spectral normalisation of the discriminator's convolutions")
    augment_d: tuple[Augmentation, ...] = Field(
        ("translation", "cutout", "colour"),
        strict=False,
        description="differentiable augmentation of every pair D sees: translation, cutout, colour",
    )
    lambda_ssim: float = Field(10.0, ge=0.0, description="weight of 1 - SSIM of the generated photo")
    # Appearance hints: skin and hair colour measured on each training photo, given by the user at prediction.
    hints: tuple[HintName, ...] = Field(
        HINT_NAMES, strict=False, description="appearance hints the generator takes: skin, hair; [] for none"
    )
    hint_dropout: float = Field(
        0.5, ge=0.0, lt=1.0, description="probability that a training sample's hint is left out, each hint on its own"
    )
    hint_injection: HintInjection = Field(
        "channels", description="channels: constant extra input planes; film: scale and shift of the bottleneck"
    )
    hint_free_pass: bool = Field(
        False, description="also generate each sample given a hint without it, held to the photo by L1 and SSIM"
    )
    hint_relight_stops: float = Field(
        0.0,
        ge=0.0,
        le=6.0,
        description="darken the face of each training photo given a skin hint by up to this many stops, "
        "and the hint with it; 0 is off",
    )

    @field_validator("augment_d", "hints")
    @classmethod
    def _each_named_once(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(names)) != len(names):
            raise ValueError(f"each may be named once, got {list(names)}")
        return names

    @model_validator(mode="after")
    def _hint_settings_need_hints(self) -> TrainParams:
        """A hint setting changed from its default without any hint is most likely a forgotten `hints`."""
        if not self.hints:
            changed = [
                key
                for key in ("hint_dropout", "hint_injection", "hint_free_pass", "hint_relight_stops")
                if getattr(self, key) != self.default(key)
            ]
            if changed:
                verb = "matters" if len(changed) == 1 else "matter"
                raise ValueError(f"{' and '.join(changed)} only {verb} with hints, but hints is []")
        elif self.direction != "sketch_to_photo":
            raise ValueError("hints describe the photo, which photo_to_sketch takes as its input: use hints: []")
        elif self.hint_relight_stops and "skin" not in self.hints:
            raise ValueError(f"hint_relight_stops relights the skin, but hints is {list(self.hints)}: add skin")
        return self

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

    @classmethod
    def default(cls, name: str) -> Any:
        """A key's default: the networks' configs, built without params, take the same values."""
        return cls.model_fields[name].default

    @property
    def min_image_size(self) -> int:
        """The PatchGAN halves n_layers_d times and loses 2 pixels in its last two convs, at its coarsest scale."""
        smallest = 3 * 2**self.n_layers_d if self.discriminator == "patch" else 4
        return smallest * 2 ** (self.discriminator_scales - 1)


# The `train` values that turn the options beyond the paper off: with them, the model is pix2pix as published.
PAPER_PIX2PIX: dict[str, Any] = {
    "upsample": "transposed",
    "ema_decay": 0.0,
    "discriminator_scales": 1,
    "lambda_feature_matching": 0.0,
    "spectral_norm": False,
    "augment_d": (),
    "lambda_ssim": 0.0,
}


SsimWindow = Literal["gaussian", "uniform"]
# the attributes the sources record (demo, cufs, cufsf, aligned); each dataset has some of them
GroupAttribute = Literal[
    "source",
    "subset",
    "gender",
    "race",
    "official_split",
    "folder_split",
    "tone_group",
    "hair_colour",
    "hair_style",
    "face_shape",
    "facial_hair",
    "skin_tone",  # derived at evaluation: the test photos' thirds by measured skin lightness (any dataset)
]


PerceptualMetric = Literal["lpips", "fid"]
ScoredGenerator = Literal["last", "best"]
InferenceMode = Literal["auto", "running_stats", "image_stats", "test_batch"]


class EvaluateParams(_Section):
    generator: ScoredGenerator = Field(
        "last", description="last: the final epoch's generator.pt; best: generator_best.pt (lowest val L1)"
    )
    inference: InferenceMode = Field(
        "auto",
        description="auto: image_stats for batch norm trained one image per process (the paper's batch 1), else "
        "running_stats; running_stats: dropout off, batch-norm running statistics (deterministic); image_stats: "
        "dropout off, each photo normalised by its own batch-norm statistics as batch-1 training did "
        "(deterministic); test_batch: pix2pix's test protocol, image_stats with dropout on",
    )
    ssim_window: SsimWindow = Field(
        "gaussian", description="gaussian: sigma 1.5 (Wang et al. 2004); uniform: 7x7 (scikit-image)"
    )
    grid_size: int = Field(8, ge=1, description="test faces shown in each sample grid")
    batch_size: int = Field(16, ge=1, description="test images generated and scored at a time")
    workers: int = Field(0, ge=0, description="threads scoring chunks of test images; 0: one per CPU")
    group_attributes: tuple[GroupAttribute, ...] = Field(
        ("gender", "race", "tone_group", "skin_tone", "subset", "source"),
        strict=False,
        description="pairs.csv columns whose groups get their own metrics; those a dataset lacks are skipped",
    )
    min_group_count: int = Field(5, ge=1, description="smallest group that takes part in a gap")
    identity_feature_size: int = Field(
        32, ge=8, le=256, description="side of the luma image the Eigenfaces recogniser sees"
    )
    perceptual_metrics: tuple[PerceptualMetric, ...] = Field(
        ("lpips", "fid"),
        strict=False,
        description="computed only when their weights are already in the torch hub cache",
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
            scales = self.train.discriminator_scales
            at_scales = f" at {scales} scales (the coarsest 1/{2 ** (scales - 1)})" if scales > 1 else ""
            raise ValueError(
                f"crop_resize.image_size {size} is too small for a PatchGAN with train.n_layers_d="
                f"{self.train.n_layers_d}{at_scales}: it needs at least {self.train.min_image_size}"
            )
        return self
