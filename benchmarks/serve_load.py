"""Load on `sketch2face serve`: concurrent clients post sketches to /api/predict for a bounded time.

Starts the server as a user would (`sketch2face serve --port 0`, on 127.0.0.1 only) with an
untrained generator (speed does not depend on the weights) unless --model points at a real one,
waits for /healthz, runs --clients threads that each post an uncropped demo sketch again and
again until --seconds have passed (waiting out a 503's Retry-After), stops the server with
SIGTERM and prints requests/s, latency percentiles, errors by kind and the server's peak memory
(its VmHWM).

    python benchmarks/serve_load.py                              # 4 clients, 10 s, 64 px, ngf 32
    python benchmarks/serve_load.py --clients 16 --seconds 30 --size 256 --ngf 64 --device cuda
    python benchmarks/serve_load.py --given-eyes                 # eyes sent along: no face detection
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx2
import numpy as np
import torch

from sketch2face.data.synthetic import generate_demo_faces
from sketch2face.inference import DEVICE_CHOICES
from sketch2face.io import write_image
from sketch2face.models.generator import GeneratorConfig, UnetGenerator, save_generator

STARTUP = re.compile(r"sketch2face serve: (http://\S+) ")
STARTUP_SECONDS = 120

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--clients", type=int, default=4, help="concurrent clients (threads, one connection each)")
parser.add_argument("--seconds", type=float, default=10.0, help="how long the clients send requests")
parser.add_argument("--size", type=int, default=64, help="generator resolution S (untrained generator)")
parser.add_argument("--ngf", type=int, default=32)
parser.add_argument("--model", type=Path, help="a real generator file instead of an untrained one")
parser.add_argument("--device", choices=DEVICE_CHOICES, default="cpu")
parser.add_argument("--queue-size", type=int, default=8, help="the server's --queue-size")
parser.add_argument("--given-eyes", action="store_true", help="send the eye positions, so no face detection runs")
args = parser.parse_args()
if args.clients < 1 or args.seconds <= 0:
    parser.error("--clients must be at least 1 and --seconds above 0")


def start_server(model: Path) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        "-m",
        "sketch2face.cli",
        "serve",
        "--model",
        str(model),
        "--port",
        "0",
        "--device",
        args.device,
        "--queue-size",
        str(args.queue_size),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    timer = threading.Timer(STARTUP_SECONDS, server.kill)  # a server that never announces itself is stopped
    timer.start()
    line = server.stdout.readline()
    timer.cancel()
    found = STARTUP.match(line)
    if not found:
        server.kill()
        sys.exit(f"serve_load: the server did not start (it printed {line!r})")
    return server, found[1]


def peak_memory_mib(pid: int) -> str:
    """The high-water mark of the process's resident memory (Linux), in MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "unknown (no /proc)"
    kilobytes = int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)[1])
    return f"{kilobytes / 1024:.1f} MiB"


def client(url: str, sketch: bytes, fields: dict, deadline: float, latencies: list, outcomes: Counter) -> None:
    with httpx2.Client(base_url=url, timeout=60) as session:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                files = {"image": ("sketch.png", sketch, "image/png")}
                response = session.post("/api/predict", files=files, data=fields)
            except httpx2.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
                continue
            outcomes[response.status_code] += 1
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            elif response.status_code == 503:  # a polite client waits as long as the server asks
                time.sleep(max(0.0, min(float(response.headers.get("retry-after", 1)), deadline - time.monotonic())))


with tempfile.TemporaryDirectory() as scratch:
    model = args.model
    if model is None:
        torch.manual_seed(0)
        model = Path(scratch) / "generator.pt"
        save_generator(UnetGenerator(GeneratorConfig(args.size, input_channels=1, ngf=args.ngf)), model, {})
    face = next(iter(generate_demo_faces(1, size=max(128, args.size), seed=0, views_per_subject=1)))
    page = np.pad(face.sketch, ((40, 20), (0, 0)), constant_values=250)  # uncropped, like a scan
    write_image(Path(scratch) / "sketch.png", page)
    sketch = (Path(scratch) / "sketch.png").read_bytes()
    (left_x, left_y), (right_x, right_y) = face.eyes.left, face.eyes.right
    fields = {}
    if args.given_eyes:
        fields = {"left_eye_x": left_x, "left_eye_y": left_y + 40, "right_eye_x": right_x, "right_eye_y": right_y + 40}

    server, url = start_server(model)
    try:
        httpx2.get(f"{url}/healthz", timeout=60).raise_for_status()
        latencies: list[float] = []
        outcomes: Counter = Counter()
        deadline = time.monotonic() + args.seconds
        started = time.perf_counter()
        workers = [
            threading.Thread(target=client, args=(url, sketch, fields, deadline, latencies, outcomes))
            for _ in range(args.clients)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        peak = peak_memory_mib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()

total = sum(outcomes.values())
ok = outcomes.pop(200, 0)
busy = outcomes.pop(503, 0)
others = ", ".join(f"{kind}: {count}" for kind, count in sorted(outcomes.items(), key=str)) or "none"
served = f"generator {args.model}" if args.model else f"untrained {args.size} px generator (ngf {args.ngf})"
print(
    f"serve_load: {args.clients} clients for {elapsed:.1f} s; {served} on {args.device}, queue {args.queue_size}, "
    f"{'eyes given' if args.given_eyes else 'eyes detected'}, "
    f"OMP_NUM_THREADS {os.environ.get('OMP_NUM_THREADS', 'unset')}"
)
print(f"requests {total}: ok {ok}, 503 queue full {busy}, other errors {sum(outcomes.values())} ({others})")
print(f"throughput {total / elapsed:.2f} requests/s, {ok / elapsed:.2f} photos/s")
if latencies:
    p50, p95, p99 = np.percentile(np.array(latencies) * 1000, [50, 95, 99])
    slowest = max(latencies) * 1000
    print(f"latency of ok requests: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {slowest:.1f} ms")
else:
    print("latency of ok requests: none succeeded")
print(f"server peak memory (VmHWM): {peak}")
