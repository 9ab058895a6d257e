import os
import stat

import numpy as np

from sketch2face.io import write_image


def test_outputs_get_the_usual_permissions_not_the_temporary_files_private_ones(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    write_image(tmp_path / "photo.png", np.zeros((4, 4), np.uint8))
    assert stat.S_IMODE((tmp_path / "photo.png").stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["photo.png"], "no temporary file is left behind"
