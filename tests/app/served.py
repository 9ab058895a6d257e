"""The app around the tiny generator, for the API tests, the live-server tests and the browser test."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from fastapi import FastAPI
from PIL import Image

from sketch2face.app.model_info import Evaluation, ModelInfo
from sketch2face.app.running import listen, url_of
from sketch2face.app.server import create_app
from sketch2face.app.settings import ServeSettings
from sketch2face.inference import EyeLocator, SketchAligner
from sketch2face.models.sketch_to_photo import SketchToPhoto

TINY_INFO = ModelInfo(
    name="generator.pt",
    image_size=32,
    input_channels=1,
    architecture="unet",
    device="cpu",
    trained_at="2026-01-02T03:04:05+00:00",
    evaluation=Evaluation(psnr=21.5, ssim=0.75, fsim=0.87, source="metrics/eval.json"),
)


def tiny_app(model: SketchToPhoto, locate_eyes: EyeLocator, **limits) -> FastAPI:
    """The app as `sketch2face serve` builds it, with the given eye locator and limits."""
    aligner = SketchAligner.for_model(model, "detect", locate_eyes=locate_eyes, no_face="center_crop")
    return create_app(model, TINY_INFO, aligner, ServeSettings(**limits))


def pixels(data: bytes | str) -> np.ndarray:
    """Decoded PNG bytes, or base64 text of them."""
    raw = base64.b64decode(data) if isinstance(data, str) else data
    return np.asarray(Image.open(io.BytesIO(raw)))


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread; yields its URL."""
    import uvicorn

    sock = listen("127.0.0.1", 0)
    url = url_of(sock)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            thread.join(0.05)
        assert server.started, "uvicorn did not start"
        yield url
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
