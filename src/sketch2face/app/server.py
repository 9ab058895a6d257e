"""The FastAPI app of `sketch2face serve`: the page, its files, the HTTP API and its docs.

Bad input never hurts the server. An upload must be multipart; its size is checked against the
byte limit from its declared length and again while it arrives (a huge or endless body is cut
off, never read into memory), the image against the pixel limit from its header, before it is
decoded. Every refusal is a 4xx whose JSON `detail` names the problem; decoding, detection and
the generator run in a bounded queue of worker threads (`jobs.JobQueue`), so a slow request
never blocks `/healthz`, and a full queue answers 503 with Retry-After.

Everything the browser loads comes from this app (the page, Swagger UI's files from the
`swagger-ui-py` package): nothing from a CDN.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel, Field

from sketch2face.app.guard import UploadGuard, too_large
from sketch2face.app.jobs import JobQueue, QueueFull
from sketch2face.app.model_info import ModelInfo
from sketch2face.app.settings import ServeSettings
from sketch2face.data.images import IMAGE_SUFFIXES, ImageReadError, read_image_bytes
from sketch2face.data.records import EyeCentres
from sketch2face.inference import (
    HintsError,
    SketchAligner,
    SketchHints,
    UnusableSketch,
    check_hints_for_model,
    generate_photos,
    parse_hint,
)
from sketch2face.models.sketch_to_photo import SketchToPhoto

IMAGE_PART_TYPES = ("image/", "application/octet-stream")  # what a browser or curl declares for an image file
UPLOAD_LABEL = "upload"  # names an upload that came without a file name
LABEL_LENGTH = 100
STATIC_DIR = Path(__file__).parent / "static"
DOCS_ASSETS_DIR = Path(str(files("swagger_ui") / "static"))
DOCS_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
# the page may load only what this app serves; data: and blob: URLs are the images it makes itself
PAGE_POLICY = "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'"
EYE_FIELDS = ("left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y")
FORMATS = ", ".join(sorted(suffix.lstrip(".").upper() for suffix in IMAGE_SUFFIXES))
SketchFile = Annotated[
    UploadFile, File(description=f"the sketch: a scan, a photo of a drawing or a drawing ({FORMATS})")
]
EyeCoordinate = Annotated[
    float | None,
    Form(
        description="in pixels of the uploaded image as displayed (EXIF orientation applied); the left eye is "
        "the one with the smaller x; give all four coordinates or none"
    ),
]
HintColour = Annotated[
    str | None,
    Form(
        description="appearance hint for a generator trained with hints: #rrggbb, monk-01 .. monk-10 (Monk Skin "
        "Tone scale), a hair colour name (black, dark_brown, brown, blonde, red, grey, white) or auto"
    ),
]
ALIGNMENT_HEADER, EYES_HEADER = "X-Alignment", "X-Eyes"

log = logging.getLogger(__name__)
T = TypeVar("T")


# ---- what the API answers (pydantic models, so /docs shows them) -------------------------------


class Point(BaseModel):
    x: float
    y: float


class Alignment(BaseModel):
    method: str = Field(description="detected eyes | eyes placed in the face box | center crop | given eyes")
    estimated: bool = Field(description="true when the eyes were placed where eyes usually are, not found")
    left_eye: Point = Field(description="the eye with the smaller x, in pixels of the uploaded image")
    right_eye: Point


class AlignResult(BaseModel):
    width: int
    height: int
    alignment: Alignment


class PredictResult(BaseModel):
    width: int
    height: int
    alignment: Alignment
    aligned_sketch_png_base64: str = Field(description="the sketch as the generator saw it")
    photo_png_base64: str


class Health(BaseModel):
    status: Literal["ok"]
    running: int
    waiting: int
    capacity: int


class Problem(BaseModel):
    detail: str


ERRORS = {
    413: {"model": Problem, "description": "the upload is over the byte limit"},
    415: {"model": Problem, "description": "not a multipart upload, or the image part is declared as something else"},
    422: {"model": Problem, "description": "not a usable image, or unusable eye coordinates"},
    503: {"model": Problem, "description": "the queue is full; see the Retry-After header"},
}


def _alignment(method: str, eyes: EyeCentres) -> Alignment:
    return Alignment(
        method=method,
        estimated=eyes.estimated,
        left_eye=Point(x=eyes.left[0], y=eyes.left[1]),
        right_eye=Point(x=eyes.right[0], y=eyes.right[1]),
    )


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# ---- the app ---------------------------------------------------------------------------------------


def _validation_message(exc: RequestValidationError) -> str:
    """FastAPI's list of errors as one line: `left_eye_x: Input should be a valid number, ...`."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query"))
        problems.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", "invalid"))
    return "; ".join(problems) or "invalid request"


def _label(upload: UploadFile) -> str:
    """The upload's file name, printable and short, to name it in messages."""
    name = "".join(char for char in (upload.filename or "") if char.isprintable())[:LABEL_LENGTH]
    return name or UPLOAD_LABEL


async def _image_bytes(upload: UploadFile, limit: int) -> bytes:
    declared = (upload.content_type or "").lower()
    if declared and not declared.startswith(IMAGE_PART_TYPES):
        raise HTTPException(415, f"{_label(upload)}: sent as {declared!r}, not as an image file")
    if upload.size is not None and upload.size > limit:
        raise HTTPException(413, too_large(limit))
    return await upload.read()


def _given_eyes(values: dict[str, float | None]) -> EyeCentres | None:
    missing = [name for name, value in values.items() if value is None]
    if len(missing) == len(values):
        return None
    if missing:
        raise HTTPException(422, f"give all four eye coordinates or none; missing {', '.join(missing)}")
    return EyeCentres((values["left_eye_x"], values["left_eye_y"]), (values["right_eye_x"], values["right_eye_y"]))


def _given_hints(model: SketchToPhoto, texts: dict[str, str | None]) -> SketchHints:
    """The colours of the form's hint fields; 422 naming a bad colour or a hint the generator was not trained with."""
    try:
        hints = {name: parse_hint(text, name) for name, text in texts.items() if text}
        check_hints_for_model(model, [name for name, lab in hints.items() if lab is not None], "the request")
    except HintsError as exc:
        raise HTTPException(422, str(exc)) from None
    return hints


def create_app(
    model: SketchToPhoto, info: ModelInfo, aligner: SketchAligner, settings: ServeSettings | None = None
) -> FastAPI:
    """The app serving `model`; `aligner` must be built for it (`SketchAligner.for_model`)."""
    settings = settings or ServeSettings()
    jobs = JobQueue(settings.queue_size)
    app = FastAPI(
        title="sketch2face",
        summary="Face sketch in, face photo out, aligned like the generator's training data.",
        description=f"Upload a sketch ({FORMATS}) as `multipart/form-data` in the field `image`. Limits: "
        f"{settings.max_upload_bytes} bytes, {settings.max_pixels} pixels.",
        docs_url=None,  # FastAPI's own page loads Swagger UI from a CDN; /docs below serves it locally
        redoc_url=None,
    )
    app.add_middleware(UploadGuard, max_upload_bytes=settings.max_upload_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, 422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)  # the traceback stays in the log
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); the server log has the details"}, 500)

    async def work(function: Callable[..., T], *args: object) -> T:
        try:
            return await jobs.run(function, *args)
        except QueueFull as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None
        except (ImageReadError, UnusableSketch) as exc:
            raise HTTPException(422, str(exc)) from None

    def decoded(data: bytes, label: str) -> np.ndarray:
        return read_image_bytes(data, label, aligner.colour_mode, settings.max_pixels, aligner.size_limits)

    def find_eyes(data: bytes, label: str) -> AlignResult:
        sketch = decoded(data, label)
        eyes, method = aligner.find_eyes(sketch, label)
        return AlignResult(width=sketch.shape[1], height=sketch.shape[0], alignment=_alignment(method, eyes))

    def make_photo(data: bytes, label: str, eyes: EyeCentres | None, hints: SketchHints) -> tuple[PredictResult, bytes]:
        sketch = decoded(data, label)
        aligned, method, used = aligner.align(sketch, label, eyes)
        photo = png_bytes(generate_photos(model, [aligned], [hints])[0])
        result = PredictResult(
            width=sketch.shape[1],
            height=sketch.shape[0],
            alignment=_alignment(method, used),
            aligned_sketch_png_base64=base64.b64encode(png_bytes(aligned)).decode("ascii"),
            photo_png_base64=base64.b64encode(photo).decode("ascii"),
        )
        return result, photo

    @app.post("/api/align", responses=ERRORS, tags=["api"])
    async def align(image: SketchFile) -> AlignResult:
        """Where the eyes are, and how they were found (`center crop`: no face found, the eyes are guessed)."""
        return await work(find_eyes, await _image_bytes(image, settings.max_upload_bytes), _label(image))

    @app.post(
        "/api/predict",
        response_class=Response,
        responses={
            200: {
                "content": {"image/png": {}},
                "model": PredictResult,
                "description": "the photo as PNG; with ?format=json, the photo and the alignment",
            },
            **ERRORS,
        },
        tags=["api"],
    )
    async def predict(
        image: SketchFile,
        left_eye_x: EyeCoordinate = None,
        left_eye_y: EyeCoordinate = None,
        right_eye_x: EyeCoordinate = None,
        right_eye_y: EyeCoordinate = None,
        skin: HintColour = None,
        hair: HintColour = None,
        response_format: Annotated[Literal["png", "json"], Query(alias="format")] = "png",
    ) -> Response:
        """The photo, aligned on the given eyes or, without them, as `/api/align` finds them; a generator trained
        with hints takes the skin and hair colours given (none given: it guesses them)."""
        eyes = _given_eyes(dict(zip(EYE_FIELDS, (left_eye_x, left_eye_y, right_eye_x, right_eye_y), strict=True)))
        hints = _given_hints(model, {"skin": skin, "hair": hair})
        data = await _image_bytes(image, settings.max_upload_bytes)
        result, photo = await work(make_photo, data, _label(image), eyes, hints)
        if response_format == "json":
            return JSONResponse(result.model_dump())
        left, right = result.alignment.left_eye, result.alignment.right_eye
        eyes_text = ",".join(f"{value:.2f}" for value in (left.x, left.y, right.x, right.y))
        return Response(
            photo, media_type="image/png", headers={ALIGNMENT_HEADER: result.alignment.method, EYES_HEADER: eyes_text}
        )

    @app.get("/api/model", tags=["api"])
    async def model_info() -> ModelInfo:
        """The served generator: name, image size, training date and evaluation (null when unknown)."""
        return info

    @app.get("/healthz", tags=["health"])
    async def health() -> Health:
        """Answers at once, also while photos are being made."""
        return Health(status="ok", running=jobs.running, waiting=jobs.waiting, capacity=jobs.capacity)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Content-Security-Policy": PAGE_POLICY})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="sketch2face API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},  # Swagger UI would ask validator.swagger.io
        )

    @app.get("/docs-assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        if name not in DOCS_ASSETS:
            raise HTTPException(404, f"no such docs file: {name}")
        return FileResponse(DOCS_ASSETS_DIR / name)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
