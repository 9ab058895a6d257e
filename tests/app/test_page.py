"""The real page in headless Chromium (Debian's chromium and chromium-driver, nothing downloaded).

A person's path through it: upload a sketch, drag an eye, Generate; the photo on the page must
be the API's photo for the same eyes. Also drawing, drop and paste, the error display, the
layout on a tablet-sized screen and the API docs, all loaded from this server alone.

`SKETCH2FACE_SCREENSHOT=docs/serve_page.png` also saves the screenshot for the README.
"""

from __future__ import annotations

import base64
import io
import itertools
import os
import shutil
import tempfile
from pathlib import Path

import httpx2
import numpy as np
import pytest
from PIL import Image
from served import live_server, pixels, tiny_app

from sketch2face.app.server import EYE_FIELDS
from sketch2face.data.detect import detect_eyes
from sketch2face.inference import load_sketch_to_photo

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
LAPTOP, TABLET = (1280, 860), (800, 1100)
WAIT_SECONDS = 30
SCREENSHOT_ENV = "SKETCH2FACE_SCREENSHOT"

pytestmark = pytest.mark.slow

if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
    pytest.skip(
        f"needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver; .ci/run does)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402 - only where the browser exists
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def url(tiny_generator_file):
    """`sketch2face serve` as it runs for a person: the real eye detector, uvicorn on a free port."""
    with live_server(tiny_app(load_sketch_to_photo(tiny_generator_file), detect_eyes)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="sketch2face-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={LAPTOP[0]},{LAPTOP[1]}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, url):
    browser.set_window_size(*LAPTOP)
    browser.get(url)
    _wait(browser, lambda _: "Model generator.pt" in browser.find_element(By.ID, "model-info").text)
    yield browser
    assert not _severe_console_messages(browser)
    assert _loaded_from_elsewhere(browser, url) == []


def _wait(browser, condition, seconds: float = WAIT_SECONDS):
    return WebDriverWait(browser, seconds).until(condition)


def _severe_console_messages(browser) -> list[str]:
    """Script errors and blocked loads (a CDN would be a Content-Security-Policy violation)."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def _loaded_from_elsewhere(browser, url: str) -> list[str]:
    names = browser.execute_script("return performance.getEntriesByType('resource').map(entry => entry.name)")
    return [name for name in names if not name.startswith((url, "data:", "blob:"))]


def _upload(browser, path: Path) -> None:
    browser.find_element(By.ID, "file-input").send_keys(str(path))
    _wait_for_eyes(browser, path.name)


def _wait_for_eyes(browser, name: str) -> None:
    _wait(browser, lambda _: browser.find_element(By.ID, "eyes-note").text.startswith(name))


def _marker(browser, side: str) -> tuple[float, float]:
    element = browser.find_element(By.ID, f"{side}-eye")
    return float(element.get_attribute("data-x")), float(element.get_attribute("data-y"))


def _generate(browser) -> tuple[np.ndarray, list[float]]:
    """Clicks Generate; the photo shown and the eyes it was aligned on."""
    previous = browser.find_element(By.ID, "photo").get_attribute("src")
    browser.find_element(By.ID, "generate").click()
    _wait(browser, lambda _: browser.find_element(By.ID, "photo").get_attribute("src") not in (previous, None, ""))
    source = browser.find_element(By.ID, "photo").get_attribute("src")
    assert source.startswith("data:image/png;base64,")
    eyes = browser.find_element(By.ID, "result-note").get_attribute("data-eyes")
    return pixels(source.split(",", 1)[1]), [float(value) for value in eyes.split(",")]


def _api_photo(url: str, path: Path, eyes: list[float] | None = None) -> np.ndarray:
    fields = {} if eyes is None else dict(zip(EYE_FIELDS, map(str, eyes), strict=True))
    response = httpx2.post(
        f"{url}/api/predict", files={"image": (path.name, path.read_bytes(), "image/png")}, data=fields, timeout=60
    )
    assert response.status_code == 200, response.text
    return pixels(response.content)


def _save_screenshot(browser, tmp_path: Path) -> None:
    """A small PNG (a 256-colour palette) of the page as it is, in tmp_path and where SKETCH2FACE_SCREENSHOT says."""
    shot = Image.open(io.BytesIO(base64.b64decode(browser.get_screenshot_as_base64())))
    assert shot.size[0] >= LAPTOP[0] - 20
    small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    for target in filter(None, (tmp_path / "page.png", os.environ.get(SCREENSHOT_ENV))):
        small.save(target, optimize=True)


def test_upload_drag_an_eye_generate_and_the_photo_is_the_apis(page, url, demo_sketches, tmp_path):
    sketch = demo_sketches.folder / "face0.png"
    _upload(page, sketch)
    left_before, right_before = _marker(page, "left"), _marker(page, "right")
    stage = page.find_element(By.ID, "stage")
    image_px_per_css_px = demo_sketches.pixels["face0"].shape[1] / stage.size["width"]

    ActionChains(page).click_and_hold(page.find_element(By.ID, "left-eye")).move_by_offset(-12, 9).release().perform()

    left_after = _marker(page, "left")
    assert left_after[0] == pytest.approx(left_before[0] - 12 * image_px_per_css_px, abs=1.5)
    assert left_after[1] == pytest.approx(left_before[1] + 9 * image_px_per_css_px, abs=1.5)
    assert _marker(page, "right") == right_before
    photo, eyes = _generate(page)
    assert eyes == pytest.approx([*left_after, *right_before], abs=0.01)
    assert "the eyes you placed" in page.find_element(By.ID, "result-note").text
    np.testing.assert_array_equal(photo, _api_photo(url, sketch, eyes))
    assert not np.array_equal(photo, _api_photo(url, sketch)), "dragging the eye must change the photo"
    assert page.find_element(By.ID, "download").get_attribute("download") == "face0_photo.png"
    _save_screenshot(page, tmp_path)


def test_keyboard_nudges_and_putting_the_eyes_back(page, url, demo_sketches):
    sketch = demo_sketches.folder / "face1.png"
    _upload(page, sketch)
    found = _marker(page, "right")
    marker = page.find_element(By.ID, "right-eye")
    marker.send_keys("\ue014\ue014\ue015")  # right, right, down: one image pixel each
    assert _marker(page, "right") == pytest.approx((found[0] + 2, found[1] + 1), abs=0.01)

    page.find_element(By.ID, "reset-eyes").click()
    assert _marker(page, "right") == found
    photo, _ = _generate(page)
    np.testing.assert_array_equal(photo, _api_photo(url, sketch))  # untouched eyes: the server finds them again


def _canvas_grey(browser, x: int, y: int) -> int:
    """The red level of one canvas pixel: 255 on paper, well below under the pen (anti-aliased at the edges)."""
    return browser.execute_script(
        "const context = document.querySelector('#canvas').getContext('2d');"
        "return context.getImageData(arguments[0], arguments[1], 1, 1).data[0]",
        x,
        y,
    )


def _stroke(browser, offsets) -> None:
    canvas = browser.find_element(By.ID, "canvas")
    actions = ActionChains(browser).move_to_element_with_offset(canvas, *offsets[0]).click_and_hold()
    for previous, current in itertools.pairwise(offsets):
        actions.move_by_offset(current[0] - previous[0], current[1] - previous[1])
    actions.release().perform()


def test_draw_erase_undo_clear_and_generate_from_the_drawing(page):
    page.find_element(By.ID, "draw-tab").click()
    canvas = page.find_element(By.ID, "canvas")
    scale = 512 / canvas.size["width"]  # canvas pixels per CSS pixel
    centre, aside = (256, 256), (int(256 - 50 * scale), 256)  # canvas pixels; strokes are in CSS px from the centre

    _stroke(page, [(-60, 0), (0, 0), (60, 0)])
    assert _canvas_grey(page, *centre) < 128 and _canvas_grey(page, *aside) < 128
    page.find_element(By.ID, "eraser").click()
    _stroke(page, [(-20, 0), (0, 0), (20, 0)])
    assert _canvas_grey(page, *centre) == 255
    assert _canvas_grey(page, *aside) < 128, "the eraser only erases where it went"
    page.find_element(By.ID, "undo").click()
    assert _canvas_grey(page, *centre) < 128
    page.find_element(By.ID, "clear").click()
    assert _canvas_grey(page, *centre) == 255 and _canvas_grey(page, *aside) == 255

    page.find_element(By.ID, "pen").click()
    for eye_x in (-40, 40):  # two eyes, a nose, a mouth
        _stroke(page, [(eye_x - 12, -30), (eye_x, -36), (eye_x + 12, -30), (eye_x, -24), (eye_x - 12, -30)])
    _stroke(page, [(0, -20), (-6, 20), (6, 22)])
    _stroke(page, [(-30, 50), (0, 60), (30, 50)])
    page.find_element(By.ID, "use-drawing").click()
    _wait_for_eyes(page, "drawing.png, 512×512 px.")
    photo, eyes = _generate(page)
    assert photo.shape == (32, 32, 3) and len(eyes) == 4


def test_dropped_and_pasted_images_are_used(page):
    make_file = """
        const canvas = document.createElement('canvas');
        canvas.width = 120; canvas.height = 150;
        const context = canvas.getContext('2d');
        context.fillStyle = '#fff'; context.fillRect(0, 0, 120, 150);
        context.fillStyle = '#333'; context.fillRect(30, 50, 15, 8); context.fillRect(75, 50, 15, 8);
        const blob = await new Promise(resolve => canvas.toBlob(resolve, 'image/png'));
        const transfer = new DataTransfer();
        transfer.items.add(new File([blob], arguments[0], {type: 'image/png'}));
        return transfer;
    """
    page.execute_script(
        f"""
        const transfer = await (async () => {{ {make_file} }})();
        const drop = new DragEvent('drop', {{dataTransfer: transfer, bubbles: true}});
        document.querySelector('#drop-zone').dispatchEvent(drop);
    """,
        "dropped.png",
    )
    _wait_for_eyes(page, "dropped.png, 120×150 px.")
    page.execute_script(
        f"""
        const transfer = await (async () => {{ {make_file} }})();
        document.dispatchEvent(new ClipboardEvent('paste', {{clipboardData: transfer, bubbles: true}}));
    """,
        "pasted.png",
    )
    _wait_for_eyes(page, "pasted.png, 120×150 px.")
    assert "No face found" in page.find_element(By.ID, "eyes-note").text
    assert "estimated" in page.find_element(By.ID, "left-eye").get_attribute("class")


def test_a_bad_file_shows_the_servers_reason(page, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    page.find_element(By.ID, "file-input").send_keys(str(text))
    status = page.find_element(By.ID, "status")
    _wait(page, lambda _: "not a readable image" in status.text)
    assert status.text == "notes.png: not a readable image" and "error" in status.get_attribute("class")
    page.get_log("browser")  # the failed request's console line is expected here


def test_on_a_tablet_the_panels_stack(page, demo_sketches):
    page.set_window_size(*TABLET)
    _upload(page, demo_sketches.folder / "face2.png")
    upload, sketch = (page.find_element(By.ID, name).rect for name in ("input-panel", "sketch-panel"))
    assert sketch["y"] >= upload["y"] + upload["height"], "one column: the sketch below the upload"
    assert sketch["width"] == pytest.approx(upload["width"], abs=2)
    assert page.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")


def test_the_api_docs_render_from_local_files(browser, url):
    browser.get(f"{url}/docs")
    _wait(browser, lambda _: "sketch2face" in browser.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title").text)
    operations = {element.text for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/api/predict", "/api/align", "/api/model", "/healthz"} <= {name.strip() for name in operations}
    assert _loaded_from_elsewhere(browser, url) == []
    assert not _severe_console_messages(browser)
