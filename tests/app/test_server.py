"""The HTTP API through FastAPI's test client: good answers, and a 4xx naming the problem for every bad input."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
from conftest import TINY_PREPROCESSING, TINY_SIZE, png_claiming
from fastapi.testclient import TestClient
from served import TINY_INFO, pixels, tiny_app

from sketch2face.app.server import EYE_FIELDS, png_bytes
from sketch2face.config import AlignmentParams
from sketch2face.data.align import align_to_eyes
from sketch2face.data.records import EyeCentres
from sketch2face.inference import SketchAligner, SketchInput, load_sketch_to_photo, predict_sketches

GEOMETRY = AlignmentParams(**TINY_PREPROCESSING["alignment"])
BLANK = np.full((60, 40), 255, np.uint8)  # no face for the stand-in detector


@pytest.fixture(scope="module")
def model(tiny_generator_file):
    return load_sketch_to_photo(tiny_generator_file)


@pytest.fixture(scope="module")
def client(model, demo_sketches):
    with TestClient(tiny_app(model, demo_sketches.locate_eyes)) as client:
        yield client


def _upload(data: bytes, name: str = "face.png", kind: str = "image/png", **fields) -> dict:
    return {"files": {"image": (name, data, kind)}, "data": {key: str(value) for key, value in fields.items()}}


def _face(demo_sketches, stem: str = "face0") -> bytes:
    return (demo_sketches.folder / f"{stem}.png").read_bytes()


def _eye_fields(eyes: EyeCentres) -> dict:
    return dict(zip(EYE_FIELDS, (*eyes.left, *eyes.right), strict=True))


# ---- good input ------------------------------------------------------------------------------------


def test_the_photo_is_the_one_predict_writes(client, model, demo_sketches, tmp_path):
    response = client.post("/api/predict", **_upload(_face(demo_sketches, "face1")))

    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["x-alignment"] == "detected eyes"
    align = SketchAligner.for_model(model, "detect", locate_eyes=demo_sketches.locate_eyes)
    predict_sketches([SketchInput(demo_sketches.folder / "face1.png", "face1")], model, align, tmp_path)
    np.testing.assert_array_equal(pixels(response.content), pixels((tmp_path / "face1.png").read_bytes()))


def test_json_answer_shows_the_alignment_and_the_aligned_sketch(client, demo_sketches):
    eyes = demo_sketches.eyes["face0"]

    response = client.post("/api/predict?format=json", **_upload(_face(demo_sketches)))

    result = response.json()
    assert response.status_code == 200
    assert (result["width"], result["height"]) == demo_sketches.pixels["face0"].shape[::-1]
    assert result["alignment"] == {
        "method": "detected eyes",
        "estimated": False,
        "left_eye": {"x": eyes.left[0], "y": eyes.left[1]},
        "right_eye": {"x": eyes.right[0], "y": eyes.right[1]},
    }
    expected = align_to_eyes(demo_sketches.pixels["face0"], eyes, GEOMETRY, TINY_SIZE)
    np.testing.assert_array_equal(pixels(result["aligned_sketch_png_base64"]), expected)
    as_png = client.post("/api/predict", **_upload(_face(demo_sketches))).content
    np.testing.assert_array_equal(pixels(result["photo_png_base64"]), pixels(as_png))


def test_given_eyes_replace_the_detected_ones(client, demo_sketches):
    found = demo_sketches.eyes["face2"]
    moved = EyeCentres((found.left[0] + 4.5, found.left[1] - 2), (found.right[0] - 1, found.right[1] + 3))

    response = client.post("/api/predict?format=json", **_upload(_face(demo_sketches, "face2"), **_eye_fields(moved)))

    result = response.json()
    assert result["alignment"]["method"] == "given eyes"
    assert result["alignment"]["left_eye"] == {"x": moved.left[0], "y": moved.left[1]}
    expected = align_to_eyes(demo_sketches.pixels["face2"], moved, GEOMETRY, TINY_SIZE)
    np.testing.assert_array_equal(pixels(result["aligned_sketch_png_base64"]), expected)
    header = client.post("/api/predict", **_upload(_face(demo_sketches, "face2"), **_eye_fields(moved))).headers
    assert header["x-alignment"] == "given eyes"
    assert header["x-eyes"] == ",".join(f"{v:.2f}" for v in (*moved.left, *moved.right))


def test_align_says_how_the_eyes_were_found(client, model, demo_sketches):
    detected = client.post("/api/align", **_upload(_face(demo_sketches, "face1"))).json()
    assert detected["alignment"]["method"] == "detected eyes" and detected["alignment"]["estimated"] is False
    assert detected["alignment"]["right_eye"]["x"] == demo_sketches.eyes["face1"].right[0]

    guessed = client.post("/api/align", **_upload(png_bytes(BLANK), "blank.png")).json()
    eyes, _ = SketchAligner.for_model(model, "center").find_eyes(BLANK, "blank")
    assert guessed["alignment"]["method"] == "center crop" and guessed["alignment"]["estimated"] is True
    assert guessed["alignment"]["left_eye"] == {"x": eyes.left[0], "y": eyes.left[1]}
    assert (guessed["width"], guessed["height"]) == (40, 60)


def test_model_and_health(client):
    assert client.get("/api/model").json() == TINY_INFO.model_dump()
    assert client.get("/healthz").json() == {"status": "ok", "running": 0, "waiting": 0, "capacity": 9}


def test_every_asset_is_served_by_the_app(client):
    """No CDN: the page and the API docs name only this server's own files, and each is there."""
    for page in ("/", "/docs"):
        response = client.get(page)
        assert response.status_code == 200
        references = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text)
        assert references, page
        for reference in references:
            assert reference.startswith(("/", "data:")) and not reference.startswith("//"), reference
            if reference.startswith("/"):
                assert client.get(reference).status_code == 200, reference
    assert "default-src 'self'" in client.get("/").headers["content-security-policy"]
    assert client.get("/docs-assets/oauth2-redirect.html").status_code == 404, "only the listed docs files are served"


def test_openapi_documents_the_api(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/align", "/api/model", "/healthz"} <= set(schema["paths"])
    predict = schema["paths"]["/api/predict"]["post"]
    assert set(predict["responses"]) >= {"200", "413", "415", "422", "503"}
    assert "image/png" in predict["responses"]["200"]["content"]
    form = predict["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][form]["properties"]) == {
        "image",
        "left_eye_x",
        "left_eye_y",
        "right_eye_x",
        "right_eye_y",
        "skin",
        "hair",
    }


# ---- bad input -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    name: str
    status: int
    detail: str  # the start of the JSON detail, after the file name
    files: dict | None = None
    data: dict = field(default_factory=dict)
    content: bytes | None = None
    headers: dict = field(default_factory=dict)
    path: str = "/api/predict"


def _truncated_png() -> bytes:
    whole = png_bytes(np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8))
    return whole[: len(whole) // 2]


def _file(data: bytes, kind: str = "image/png", name: str = "face.png") -> dict:
    return {"image": (name, data, kind)}


FACE = png_bytes(np.pad(np.full((20, 20), 90, np.uint8), 30, constant_values=250))
EYES = {"left_eye_x": 30, "left_eye_y": 35, "right_eye_x": 50, "right_eye_y": 35}
BAD_INPUTS = [
    Bad("not an image", 422, "face.png: not a readable image", files=_file(b"name,age\nann,31\n")),
    Bad("empty", 422, "face.png: empty file (0 bytes)", files=_file(b"")),
    Bad("truncated", 422, "face.png: truncated image", files=_file(_truncated_png())),
    Bad(
        "over the pixel limit",
        422,
        "face.png: too large (9000x9000 pixels, limit 64000000)",
        files=_file(png_claiming(9000, 9000)),
    ),
    Bad(
        "decompression bomb",
        422,
        "face.png: too large, possible decompression bomb",
        files=_file(png_claiming(60000, 60000)),
    ),
    Bad(
        "decompression bomb, to align",
        422,
        "face.png: too large, possible decompression bomb",
        files=_file(png_claiming(60000, 60000)),
        path="/api/align",
    ),
    Bad(
        "eyes outside the image",
        422,
        "face.png: cannot align on the given eyes (eye centres outside the image",
        files=_file(FACE),
        data={**EYES, "right_eye_x": 500},
    ),
    Bad(
        "eyes at negative coordinates",
        422,
        "face.png: cannot align on the given eyes (eye centres outside",
        files=_file(FACE),
        data={**EYES, "left_eye_y": -3},
    ),
    Bad(
        "eyes in the wrong order",
        422,
        "face.png: eyes in the wrong order",
        files=_file(FACE),
        data={**EYES, "left_eye_x": 50, "right_eye_x": 30},
    ),
    Bad(
        "eyes that are not numbers",
        422,
        "left_eye_x: Input should be a valid number",
        files=_file(FACE),
        data={**EYES, "left_eye_x": "left"},
    ),
    Bad(
        "eyes that are not finite",
        422,
        "face.png: cannot align on the given eyes (eye centres are not finite",
        files=_file(FACE),
        data={**EYES, "left_eye_x": "nan"},
    ),
    Bad(
        "some eyes missing",
        422,
        "give all four eye coordinates or none; missing right_eye_x, right_eye_y",
        files=_file(FACE),
        data={"left_eye_x": 30, "left_eye_y": 35},
    ),
    Bad("no image field", 422, "image: Field required", files={"sketch": ("face.png", FACE, "image/png")}),
    Bad(
        "image sent as text",
        422,
        "image: Value error, Expected UploadFile",
        data={"image": "face.png"},
        files={"other": ("x.txt", b"x", "text/plain")},
    ),
    Bad(
        "unknown answer format",
        422,
        "format: Input should be 'png' or 'json'",
        files=_file(FACE),
        path="/api/predict?format=xml",
    ),
    Bad(
        "JSON body",
        415,
        "expected a multipart/form-data upload with the sketch in the field 'image'; the request is 'application/json'",
        content=b'{"image": "x"}',
        headers={"content-type": "application/json"},
    ),
    Bad("form-urlencoded body", 415, "expected a multipart/form-data upload", data={"image": "x"}),
    Bad(
        "raw PNG body",
        415,
        "expected a multipart/form-data upload",
        content=FACE,
        headers={"content-type": "image/png"},
    ),
    Bad(
        "no content type",
        415,
        "expected a multipart/form-data upload with the sketch in the field 'image'; the request has no content type",
        content=FACE,
    ),
    Bad(
        "image part declared as text",
        415,
        "face.png: sent as 'text/plain', not as an image file",
        files=_file(FACE, "text/plain"),
    ),
    Bad(
        "broken multipart body",
        422,
        "image: Field required",
        content=b"--x\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=x"},
    ),
    Bad(
        "multipart without a boundary",
        400,
        "Missing boundary in multipart.",
        content=b"--x\r\nbroken",
        headers={"content-type": "multipart/form-data"},
    ),
]


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[bad.name for bad in BAD_INPUTS])
def test_bad_input_is_a_4xx_naming_the_problem(client, bad):
    response = client.post(bad.path, files=bad.files, data=bad.data, content=bad.content, headers=bad.headers)

    assert response.status_code == bad.status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"].startswith(bad.detail), response.json()
    assert "Traceback" not in response.text


def test_the_server_keeps_serving_after_every_bad_input(client, demo_sketches):
    for bad in BAD_INPUTS:
        client.post(bad.path, files=bad.files, data=bad.data, content=bad.content, headers=bad.headers)
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.post("/api/predict", **_upload(_face(demo_sketches))).status_code == 200


def test_wrong_method_and_unknown_path_are_json_4xx(client):
    assert client.get("/api/predict").status_code == 405
    missing = client.get("/api/nothing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}


def test_limits_are_settable(model, demo_sketches):
    with TestClient(tiny_app(model, demo_sketches.locate_eyes, max_upload_bytes=2000, max_pixels=1000)) as client:
        small = png_bytes(np.full((30, 30), 200, np.uint8))  # 900 pixels, a few hundred bytes
        assert client.post("/api/predict", files=_file(small)).status_code == 200

        over_pixels = client.post("/api/predict", files=_file(png_bytes(np.full((30, 40), 200, np.uint8))))
        assert over_pixels.status_code == 422
        assert over_pixels.json()["detail"] == "face.png: too large (40x30 pixels, limit 1000)"

        # within the allowance for the form around it, but the file itself is over the limit
        just_over = client.post("/api/align", files=_file(b"\x89PNG" + bytes(2000)))
        assert just_over.status_code == 413
        assert just_over.json()["detail"] == "upload too large: more than 2000 bytes (the server's --max-upload-bytes)"

        declared = client.post("/api/predict", files=_file(bytes(200_000)))  # refused from its Content-Length
        assert declared.status_code == 413 and declared.json()["detail"].startswith("upload too large")


def test_a_streamed_upload_is_cut_off_at_the_limit(model, demo_sketches):
    def endless():
        for _ in range(1000):
            yield b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n' + bytes(4096)

    with TestClient(tiny_app(model, demo_sketches.locate_eyes, max_upload_bytes=1000)) as client:
        response = client.post(
            "/api/predict", content=endless(), headers={"content-type": "multipart/form-data; boundary=x"}
        )
    assert response.status_code == 413, response.text
    assert response.json()["detail"].startswith("upload too large: more than 1000 bytes")


# ---- load and failures inside ----------------------------------------------------------------------


def test_a_full_queue_answers_503_and_health_still_answers(model, demo_sketches):
    release, entered = threading.Event(), threading.Event()

    def slow_detector(image):
        entered.set()
        assert release.wait(30), "the test never released the detector"
        return demo_sketches.locate_eyes(image)

    answers = {}
    with TestClient(tiny_app(model, slow_detector, queue_size=0)) as client:

        def first_request():
            answers["first"] = client.post("/api/predict", **_upload(_face(demo_sketches)))

        first = threading.Thread(target=first_request)
        first.start()
        try:
            assert entered.wait(30), "the first request never reached the detector"
            busy = client.post("/api/align", **_upload(_face(demo_sketches)))
            health = client.get("/healthz")
        finally:
            release.set()
            first.join(30)
        after = client.post("/api/align", **_upload(_face(demo_sketches)))

    assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
    assert busy.json()["detail"].startswith("the server is busy; retry in")
    assert health.json() == {"status": "ok", "running": 1, "waiting": 0, "capacity": 1}
    assert answers["first"].status_code == 200 and after.status_code == 200


def test_an_internal_failure_is_a_500_without_a_traceback(model, demo_sketches):
    def broken_detector(image):
        raise RuntimeError("cascade file vanished")

    with TestClient(tiny_app(model, broken_detector), raise_server_exceptions=False) as client:
        response = client.post("/api/align", **_upload(_face(demo_sketches)))
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error (RuntimeError); the server log has the details"}


# ---- appearance hints ------------------------------------------------------------------------------


def test_a_generator_with_hints_takes_skin_and_hair_fields(demo_sketches, hinted_generator_file, tmp_path):
    model = load_sketch_to_photo(hinted_generator_file)
    with TestClient(tiny_app(model, demo_sketches.locate_eyes)) as client:
        given = client.post("/api/predict", **_upload(_face(demo_sketches), skin="monk-08", hair="black"))
        guessed = client.post("/api/predict", **_upload(_face(demo_sketches)))
        bad = client.post("/api/predict", **_upload(_face(demo_sketches), skin="beige"))
    assert given.status_code == guessed.status_code == 200
    align = SketchAligner.for_model(model, "detect", locate_eyes=demo_sketches.locate_eyes)
    sketch = align(demo_sketches.folder / "face0.png")[0]
    expected = model(torch.from_numpy(sketch)[None, None], skin="monk-08", hair="black")[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(pixels(given.content), expected)
    assert not np.array_equal(pixels(given.content), pixels(guessed.content))
    assert bad.status_code == 422 and bad.json()["detail"].startswith("skin: 'beige' is not a colour: give a hex sRGB")


def test_colours_for_a_generator_without_hints_are_refused_and_auto_is_no_hint(client, demo_sketches):
    refused = client.post("/api/predict", **_upload(_face(demo_sketches), hair="#402010"))
    assert refused.status_code == 422
    assert refused.json()["detail"] == "the request gives hair colours, but this generator was trained without hints"
    auto = client.post("/api/predict", **_upload(_face(demo_sketches), skin="auto"))
    plain = client.post("/api/predict", **_upload(_face(demo_sketches)))
    assert auto.status_code == 200 and auto.content == plain.content
