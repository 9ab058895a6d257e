"""The limits an operator sets on `sketch2face serve`, importable without the web framework (the CLI's defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from sketch2face.data.images import DEFAULT_MAX_PIXELS

DEFAULT_HOST = "127.0.0.1"  # this machine only: opening the model to a network is a deliberate choice
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # a 600 dpi greyscale A4 scan as PNG is about 10 MB
DEFAULT_QUEUE_SIZE = 8


@dataclass(frozen=True)
class ServeSettings:
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    queue_size: int = DEFAULT_QUEUE_SIZE  # requests that may wait while one is being worked on

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1 or self.max_pixels < 1 or self.queue_size < 0:
            raise ValueError(f"limits must be positive (the queue size may be 0): {self}")
