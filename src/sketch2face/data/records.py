"""The currency between data sources and the rest of the pipeline: one record per face pair."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

MANIFEST_FILE = "manifest.csv"
"""The aligned records as crop_resize writes them and assemble_pairs reads them (in data/faces)."""
PAIRS_FILE = "pairs.csv"
"""The AB pairs with their splits as assemble_pairs writes them (in data/pairs); the aligned source skips it."""


@dataclass(frozen=True)
class EyeCentres:
    """Eye centres in pixel coordinates (x, y); `left` is the eye at smaller x in the image.

    `estimated` marks eyes placed where they typically are rather than measured on this image:
    in a detected face box whose eyes were not found, or where a dataset's official crop puts
    them. Such an alignment is rougher, and the manifest says so.
    """

    left: tuple[float, float]
    right: tuple[float, float]
    estimated: bool = False


@dataclass(frozen=True)
class FaceRecord:
    """One photo/sketch pair as found on disk, before alignment.

    `id` is stable and traceable (e.g. `cufs/cuhk/f-005-01`); `subject` keeps splits
    identity-disjoint; `attributes` (gender, race, tone group, subset...) feed per-group metrics.
    `ab_sketch_side` is set when photo and sketch are the two halves of one already aligned
    pix2pix AB image (`photo_path == sketch_path`): such a pair is resized as it is.
    """

    id: str
    source: str
    subject: str
    photo_path: Path
    sketch_path: Path
    photo_eyes: EyeCentres | None = None
    sketch_eyes: EyeCentres | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    ab_sketch_side: Literal["left", "right"] | None = None


class SourceError(ValueError):
    """Input data that cannot be used at all: a source (missing root, wrong layout, bad list file), a bad pairs table."""


PARTNER_SEPARATOR = "; "
"""Between the files of one `Rejection.partner` (a broken landmark file leaves photo and sketch unused)."""


@dataclass(frozen=True)
class Rejection:
    """An input that was not used, and why: nothing is dropped silently.

    When one file makes a pair unusable (an unreadable image, a broken landmark file), `path` is
    that file and `partner` the pair's other files, not used either (`PARTNER_SEPARATOR` between
    two); empty for a one-file pair, an AB image.
    """

    source: str
    path: str
    reason: str
    partner: str = ""

    @classmethod
    def of_pair(cls, source: str, failed: Path | str, reason: str, pair: Iterable[Path | str]) -> Rejection:
        """`failed` with its reason, the pair's files other than `failed` as partner."""
        others = [str(path) for path in pair if Path(path) != Path(failed)]
        return cls(source, str(failed), reason, partner=PARTNER_SEPARATOR.join(others))


@dataclass
class SourceScan:
    """What a source adapter found: usable records plus every input it had to reject."""

    records: list[FaceRecord] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def extend(self, other: SourceScan) -> None:
        self.records.extend(other.records)
        self.rejections.extend(other.rejections)


# Attribute keys that carry a split decided by the dataset rather than by `assemble_pairs`.
OFFICIAL_SPLIT = "official_split"  # the published train/test split; honoured with `split: standard`
FOLDER_SPLIT = "folder_split"  # the train/val/test folder of an imported AB dataset; always honoured
