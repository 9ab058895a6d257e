"""The upload limit on a real server (uvicorn, a raw socket): a huge body is refused without being read."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from served import live_server, tiny_app

from sketch2face.app.guard import FORM_OVERHEAD_BYTES
from sketch2face.data.detect import detect_eyes
from sketch2face.inference import load_sketch_to_photo

LIMIT = 10_000
HEAD = "POST /api/predict HTTP/1.1\r\nHost: test\r\nContent-Type: multipart/form-data; boundary=x\r\n"


@pytest.fixture(scope="module")
def url(tiny_generator_file):
    with live_server(tiny_app(load_sketch_to_photo(tiny_generator_file), detect_eyes, max_upload_bytes=LIMIT)) as url:
        yield url


def _connect(url: str) -> socket.socket:
    address = urlsplit(url)
    return socket.create_connection((address.hostname, address.port), timeout=20)


def _status_and_body(connection: socket.socket) -> tuple[int, str]:
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def test_a_body_declared_too_large_is_refused_before_a_byte_of_it_arrives(url):
    with _connect(url) as connection:
        connection.sendall(f"{HEAD}Content-Length: {2 * 1024**3}\r\n\r\n".encode())  # 2 GB announced, none sent
        status, body = _status_and_body(connection)
    assert status == 413 and "upload too large: more than 10000 bytes" in body


def test_a_streamed_body_is_cut_off_at_the_limit_without_waiting_for_its_end(url):
    part = b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
    with _connect(url) as connection:
        connection.sendall(f"{HEAD}Transfer-Encoding: chunked\r\n\r\n".encode())
        payload = part + bytes(LIMIT + FORM_OVERHEAD_BYTES + 4096)
        for start in range(0, len(payload), 8192):
            piece = payload[start : start + 8192]
            connection.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        # the body never ends (no closing chunk): a server that waited for it would never answer
        status, body = _status_and_body(connection)
    assert status == 413 and "upload too large" in body


def test_the_server_answers_after_refusing(url):
    with _connect(url) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        status, body = _status_and_body(connection)
    assert status == 200 and '"status":"ok"' in body
