"""pix2pix "AB" folders (pytorch-CycleGAN-and-pix2pix `datasets/<name>/{train,val,test}`), imported as they are.

    <root>/train/<id>.<ext>   one image: sketch and photo side by side (which half is the sketch:
    <root>/val/<id>.<ext>     `sketch_side`, default left = A)
    <root>/test/<id>.<ext>

The images are already aligned, so crop_resize only resizes each half to S x S, and the
folder's split is kept by assemble_pairs whatever its split mode.
"""

from __future__ import annotations

from sketch2face.config import SourceParams
from sketch2face.data.images import image_stem, is_image_file
from sketch2face.data.records import FOLDER_SPLIT, FaceRecord, Rejection, SourceError, SourceScan
from sketch2face.data.sources.common import files_under

SPLIT_FOLDERS = ("train", "val", "test")


def scan(params: SourceParams) -> SourceScan:
    result = SourceScan()
    if not any((params.root / split).is_dir() for split in SPLIT_FOLDERS):
        raise SourceError(f"source '{params.name}': expected {'/, '.join(SPLIT_FOLDERS)}/ folders in {params.root}")
    for path in files_under(params.root):
        relative = path.relative_to(params.root)
        if len(relative.parts) != 2 or relative.parts[0] not in SPLIT_FOLDERS:
            result.rejections.append(Rejection(params.name, str(path), f"not directly in a {'/'.join(SPLIT_FOLDERS)} folder"))
        elif not is_image_file(path):
            result.rejections.append(Rejection(params.name, str(path), "not an image file extension"))
        else:
            split, stem = relative.parts[0], image_stem(path)
            result.records.append(
                FaceRecord(
                    id=f"{params.name}/{split}/{stem}",
                    source=params.name,
                    subject=f"{params.name}/{split}/{stem}",
                    photo_path=path,
                    sketch_path=path,
                    attributes={FOLDER_SPLIT: split},
                    ab_sketch_side=params.sketch_side,
                )
            )
    return result
