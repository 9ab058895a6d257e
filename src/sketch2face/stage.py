"""How a stage script reports a user's mistake: one line naming the file or key, exit status 1.

A wrong key in `params.yaml`, a missing source folder, an unusable image or an output that cannot
be written (disk full, permission denied) is not a bug, so the user gets the message and not a
traceback. Anything else is a bug and keeps its traceback. Set SKETCH2FACE_TRACEBACK=1 to see
the traceback of user errors too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sketch2face.config import ParamsError
from sketch2face.data.images import ImageReadError
from sketch2face.data.records import SourceError
from sketch2face.io import OutputError

USER_ERRORS = (ParamsError, SourceError, ImageReadError, OutputError)
EXIT_USER_ERROR = 1
TRACEBACK_VARIABLE = "SKETCH2FACE_TRACEBACK"


def _message(exc: BaseException) -> str:
    if isinstance(exc, USER_ERRORS):
        return str(exc)
    return f"{exc.filename}: {exc.strerror}"  # an OSError that names its file


def _is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, USER_ERRORS) or (isinstance(exc, OSError) and exc.filename is not None)


@contextmanager
def reported_errors(stage: str) -> Iterator[None]:
    """Wraps a stage's work: user errors become `<stage>: error: <message>` on stderr and exit 1."""
    try:
        yield
    except Exception as exc:
        if not _is_user_error(exc) or os.environ.get(TRACEBACK_VARIABLE):
            raise
        print(f"{stage}: error: {_message(exc)}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
