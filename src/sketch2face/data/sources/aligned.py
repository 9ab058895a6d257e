"""pix2pix "AB" folders (pytorch-CycleGAN-and-pix2pix `datasets/<name>/{train,val,test}`), imported as they are.

    <root>/train/<id>.<ext>   one image: sketch and photo side by side (which half is the sketch:
    <root>/val/<id>.<ext>     `sketch_side`, default left = A); `<id>` may hold sub-folders, as in
    <root>/test/<id>.<ext>    this pipeline's own `data/pairs` (`train/cufs/cuhk/f-005-01.png`)

The images are already aligned, so crop_resize only resizes each half to S x S, and the
folder's split is kept by assemble_pairs whatever its split mode. The `pairs.csv` that
assemble_pairs writes at the root is its table of these images, not an input, and is skipped.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from sketch2face.config import SourceParams
from sketch2face.data.images import image_stem, is_image_file
from sketch2face.data.records import FOLDER_SPLIT, PAIRS_FILE, FaceRecord, Rejection, SourceError, SourceScan
from sketch2face.data.sources.common import source_files, unique_by_key

SPLIT_FOLDERS = ("train", "val", "test")


def _id_in_source(path: Path, root: Path) -> str:
    """The path below `root` without its extension: `train/0001` for `<root>/train/0001.jpg`."""
    return (path.relative_to(root).parent / image_stem(path)).as_posix()


def scan(params: SourceParams) -> SourceScan:
    result = SourceScan()
    if not any((params.root / split).is_dir() for split in SPLIT_FOLDERS):
        raise SourceError(f"source '{params.name}': expected {'/, '.join(SPLIT_FOLDERS)}/ folders in {params.root}")
    images = []
    for path in source_files(params.root, params.name, result.rejections):
        relative = path.relative_to(params.root)
        if relative == Path(PAIRS_FILE):
            continue
        if len(relative.parts) < 2 or relative.parts[0] not in SPLIT_FOLDERS:
            result.rejections.append(Rejection(params.name, str(path), f"not in a {'/'.join(SPLIT_FOLDERS)} folder"))
        elif not is_image_file(path):
            result.rejections.append(Rejection(params.name, str(path), "not an image file extension"))
        else:
            images.append(path)
    id_in_source = partial(_id_in_source, root=params.root)
    for key, path in unique_by_key(images, id_in_source, params.name, result.rejections, what="id").items():
        result.records.append(
            FaceRecord(
                id=f"{params.name}/{key}",
                source=params.name,
                subject=f"{params.name}/{key}",
                photo_path=path,
                sketch_path=path,
                attributes={FOLDER_SPLIT: key.split("/", 1)[0]},
                ab_sketch_side=params.sketch_side,
            )
        )
    return result
