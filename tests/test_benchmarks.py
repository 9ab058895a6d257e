"""Every benchmark runs end to end on tiny inputs, so that none of them rots as the library changes.

Only that they run and print their figures is checked here; the figures themselves are for people
(tests never assert timings).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import python_path

from sketch2face.config import CropResizeParams, SourceParams, SynthesizeParams
from sketch2face.data.faces import build_faces
from sketch2face.data.sources.demo import write_demo_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench") / "demo"
    write_demo_dataset(SynthesizeParams(count=12, image_size=128), root)
    return root


@pytest.fixture(scope="module")
def faces_dir(demo_root) -> Path:
    out = demo_root.parent / "faces"
    source = SourceParams(name="demo", kind="demo", root=demo_root)
    build_faces(CropResizeParams(image_size=128, sources=(source,), contact_sheet_pairs=0), out, progress=False)
    return out


def run_benchmark(script: str, *arguments: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *arguments],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": python_path(REPO / "src"), "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


ONE_TINY_STEP = ("--steps", "1", "--warmup", "1", "--ngf", "4", "--device", "cpu")


def test_train_speed_prints_a_row_per_configuration():
    output = run_benchmark(
        "train_speed.py",
        "--sizes",
        "32",
        "--batches",
        "2",
        "--precision",
        "fp32",
        "bf16",
        *ONE_TINY_STEP,
    )
    header, *lines = output.splitlines()
    assert header.split() == [
        "device",
        "thr",
        "size",
        "batch",
        "prec",
        "img/s",
        "s/step",
        "cpu",
        "s/img",
        "peak",
        "MiB",
    ]
    rows = [line.split() for line in lines if line.startswith("cpu")]
    assert [row[:5] for row in rows] == [["cpu", "1", "32", "2", "fp32"], ["cpu", "1", "32", "2", "bf16"]]
    for row in rows:  # img/s, s/step and cpu s/img with 3 decimals, peak MiB with 1; their size is not checked
        assert re.fullmatch(r"(\d+\.\d{3} ){3}\d+\.\d", " ".join(row[5:])), row
    assert "quoted reference" not in output, "the 256 px reference is only shown beside a 256 px, batch 1 row"


def test_train_speed_times_any_train_setting_and_refuses_a_bad_one():
    output = run_benchmark(
        "train_speed.py",
        "--sizes",
        "32",
        "--batches",
        "1",
        *ONE_TINY_STEP,
        "--set",
        "upsample=resize",
        "--set",
        "augment_d=[cutout]",
        "--set",
        "ema_decay=0.9",
    )
    assert [line.split()[:5] for line in output.splitlines() if line.startswith("cpu")] == [
        ["cpu", "1", "32", "1", "fp32"]
    ]
    bad = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "train_speed.py"), "--sizes", "32", "--set", "ema_decay"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": python_path(REPO / "src")},
    )
    assert bad.returncode != 0 and "--set takes KEY=VALUE, got 'ema_decay'" in bad.stderr


def test_before_after_compares_four_steps():
    output = run_benchmark(
        "train_speed_before_after.py", "--size", "32", "--batch", "2", "--ngf", "4", "--steps", "1", "--rounds", "1"
    )
    assert [line.split()[0] for line in output.splitlines()[1:]] == ["before", "reference", "after", "after"]


STAND_IN_REFERENCE = """
import torch


class Pix2PixModel:  # what the benchmark needs of pytorch-CycleGAN-and-pix2pix's model, and no more
    def __init__(self, opt):
        assert (opt.netG, opt.netD, opt.norm, opt.gan_mode, opt.direction) == ("unet_128", "basic", "batch", "vanilla", "AtoB")
        assert (opt.input_nc, opt.output_nc, opt.ngf, opt.ndf, opt.gpu_ids, opt.isTrain) == (1, 3, 4, 4, [], True)
        self.net = torch.nn.Conv2d(opt.input_nc, opt.output_nc, 3, padding=1)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))

    def set_input(self, input):
        self.real_A, self.real_B = input["A"], input["B"]

    def optimize_parameters(self):
        self.optimizer.zero_grad()
        torch.nn.functional.l1_loss(self.net(self.real_A), self.real_B).backward()
        self.optimizer.step()
"""


def test_before_after_times_a_reference_checkout_in_turns(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "__init__.py").write_text("")
    (tmp_path / "models" / "pix2pix_model.py").write_text(STAND_IN_REFERENCE)
    output = run_benchmark(
        "train_speed_before_after.py",
        "--size",
        "128",
        "--ngf",
        "4",
        "--steps",
        "1",
        "--rounds",
        "1",
        "--reference-checkout",
        str(tmp_path),
    )
    lines = output.splitlines()[1:]
    assert [line.split()[0] for line in lines] == [
        "pytorch-CycleGAN-and-pix2pix",
        "before",
        "reference",
        "after",
        "after",
    ]
    assert "x1.00 vs pytorch-CycleGAN-and-pix2pix" in lines[0]  # every row is also compared with the checkout's step
    assert all("vs pytorch-CycleGAN-and-pix2pix" in line for line in lines[1:])


def test_before_after_refuses_a_folder_without_the_reference_model(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "train_speed_before_after.py"),
            "--reference-checkout",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": python_path(REPO / "src")},
    )
    assert result.returncode == 2 and f"{tmp_path}: no models/pix2pix_model.py there" in result.stderr


def test_bf16_quality_reports_the_gap():
    output = run_benchmark(
        "bf16_quality.py",
        "--count",
        "24",
        "--size",
        "32",
        "--epochs",
        "2",
        "--ngf",
        "4",
        "--seeds",
        "0",
        "--device",
        "cpu",
    )
    assert "mean fp32 - bf16 =" in output


def test_eval_speed_times_metrics_and_forward():
    output = run_benchmark(
        "eval_speed.py", "--images", "4", "--size", "32", "--train-photos", "6", "--forward-images", "2", "--ngf", "4"
    )
    assert "metrics, 4 images of 32 px" in output and "generator forward" in output


def test_predict_speed_counts_sketches():
    assert "3 sketches at 16 px" in run_benchmark("predict_speed.py", "--count", "3", "--size", "16", "--ngf", "4")


def test_crop_resize_speed_on_demo_data(demo_root):
    assert "images/s" in run_benchmark(
        "crop_resize_speed.py", str(demo_root), "--kind", "demo", "--size", "32", "--workers", "1"
    )


def test_eye_agreement_on_aligned_faces(faces_dir, tmp_path):
    params = tmp_path / "params.yaml"  # the geometry faces_dir was built with (the defaults), not the user's
    params.write_text(yaml.safe_dump({"crop_resize": {"sources": [{"name": "demo", "kind": "demo", "root": "x"}]}}))
    assert "eye disagreement" in run_benchmark("eye_agreement.py", str(faces_dir), "--params", str(params))


def test_gemm_convolutions_times_both_paths_per_level():
    output = run_benchmark(
        "gemm_convolutions.py", "--size", "32", "--ngf", "4", "--precision", "fp32", "--repeats", "1"
    )
    rows = [line.split() for line in output.splitlines() if line.startswith(("encoder", "decoder"))]
    assert len(rows) == 2 * 5 and all(row[-1] in ("GEMM", "oneDNN") for row in rows)  # 5 levels at 32 px


def test_memory_format_compares_three_layouts_and_names_the_chosen_one():
    output = run_benchmark(
        "memory_format.py",
        "--size",
        "32",
        "--ngf",
        "4",
        "--batch",
        "2",
        "--precision",
        "fp32",
        "--steps",
        "1",
        "--warmup",
        "1",
    )
    assert "training uses 'D NHWC'" in output.splitlines()[0]
    rows = [line.split() for line in output.splitlines()[1:]]
    assert [" ".join(row[1:3]) for row in rows] == ["both NCHW", "D NHWC", "both NHWC"]


def test_step_logging_times_both_ways_of_logging():
    output = run_benchmark("step_logging.py", "--steps", "20", "--write-every", "5")
    rows = [line.split("  ")[0].strip() for line in output.splitlines() if "ms/step" in line]
    assert rows == ["write per step", "queued"]


def test_serve_load_runs_clients_against_a_real_server_and_stops_by_itself():
    output = run_benchmark("serve_load.py", "--clients", "2", "--seconds", "2", "--size", "32", "--ngf", "4")
    lines = output.splitlines()
    assert lines[0].startswith("serve_load: 2 clients for ") and "untrained 32 px generator (ngf 4) on cpu" in lines[0]
    requests = re.fullmatch(r"requests (\d+): ok (\d+), 503 queue full (\d+), other errors 0 \(none\)", lines[1])
    assert requests and int(requests[2]) >= 1 and int(requests[1]) == int(requests[2]) + int(requests[3])
    assert re.fullmatch(r"throughput \d+\.\d\d requests/s, \d+\.\d\d photos/s", lines[2])
    assert re.fullmatch(r"latency of ok requests: p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms", lines[3])
    assert re.fullmatch(r"server peak memory \(VmHWM\): \d+\.\d MiB", lines[4])


def test_recipe_study_table_gives_means_spreads_and_the_time_against_plain_pix2pix():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import recipe_study

    def run(psnr: float, seconds: float) -> dict:
        return {
            "psnr": psnr,
            "ssim": 0.5,
            "ssim_grey": 0.5,
            "fsim": 0.8,
            "identity_rank1": 0.9,
            "final_val_psnr": psnr - 1,
            "final_val_ssim": 0.4,
            "train_seconds": seconds,
        }

    found = {
        "plain-s0": run(20.0, 100),
        "plain-s1": run(21.0, 120),
        "ema-s0": run(22.0, 110),
        "ema-s1": run(22.5, 110),
        "bumpy-lark": run(1.0, 1),
    }
    lines = recipe_study.table(recipe_study.by_arm(found), {"pix2pix (reference)": {"psnr": [19.0, 19.5]}}).splitlines()
    assert lines[0].startswith("| arm | seeds | final_val_psnr")
    plain, ema, reference = lines[2:]  # plain pix2pix first; experiments not named <arm>-s<seed> are left out
    assert plain.startswith("| plain | 2 |") and "| 20.500 ±0.500 |" in plain and plain.endswith("| 110 | 1.00 |")
    assert ema.startswith("| ema | 2 |") and "| 22.250 ±0.250 |" in ema and ema.endswith("| 110 | 1.00 |")
    assert reference.startswith("| pix2pix (reference) | 2 | - | - | 19.250 ±0.250 |")
    assert recipe_study.arm_settings("recipe", ["ema", "resize"]) == {
        "train.ema_decay": "0.995",
        "train.upsample": "resize",
    }


def test_hints_study_table_gives_tone_shift_per_group_without_and_with_hints():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import recipe_study

    def run(psnr: float, shifts: dict[str, float], hinted: dict[str, float] | None = None) -> dict:
        values = {"psnr": psnr, "ssim": 0.5, "train_seconds": 100.0}
        for prefix, by_group in (("", shifts), ("hinted_", hinted or {})):
            for group, shift in by_group.items():
                values[f"group.tone_group.{group}.count"] = 10
                values[f"group.tone_group.{group}.{prefix}tone_shift"] = shift
            if by_group:
                values[f"gap.tone_group.{prefix}tone_shift"] = max(by_group.values()) - min(by_group.values())
        if hinted:
            values.update({"hinted_psnr": psnr + 2, "hinted_ssim": 0.6})
        values["group.tone_group.VI.count"] = 2  # too few to count
        values["group.tone_group.VI.tone_shift"] = 50.0
        return values

    found = {
        "no-hints-s0": run(20.0, {"I": -6.0, "V": 10.0}),
        "no-hints-s1": run(21.0, {"I": -8.0, "V": 12.0}),
        "hints-s0": run(20.8, {"I": -6.0, "V": 10.0}, {"I": -1.0, "V": 3.0}),
        "plain-s0": run(1.0, {"I": 0.0}),  # a recipe arm is not part of this study
    }
    arms = {
        arm: runs
        for arm, runs in recipe_study.by_arm(found, recipe_study.HINT_ARMS).items()
        if arm in recipe_study.HINT_ARMS
    }
    lines = recipe_study.hints_table(arms).splitlines()
    assert lines[0] == "tone groups: tone_group (groups of at least 5 test images)"
    assert lines[1].startswith("| arm | seeds | psnr | hinted psnr | ssim | hinted ssim | mean abs tone shift |")
    no_hints, hints = lines[3:]
    # no-hints: |shift| means 8 and 10 -> 9 +-1; gaps 16 and 20; no hinted columns
    assert no_hints == (
        "| no-hints | 2 | 20.500 ±0.500 | - | 0.500 ±0.000 | - | 9.000 ±1.000 | - | 18.000 ±2.000 "
        "| - | 0.000 ±0.500 | 100 |"
    )
    assert hints == "| hints | 1 | 20.800 | 22.800 | 0.500 | 0.600 | 8.000 | 2.000 | 16.000 | 4.000 | 0.300 | 100 |"
    assert recipe_study.hints_table({"hints": [run(20.0, {}, {})]}).startswith("tone groups: skin_tone")


def test_study_queues_name_each_experiment_arm_and_seed_and_the_recipe_study_starts_from_the_paper(monkeypatch):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import recipe_study

    commands = []
    monkeypatch.setattr(recipe_study.subprocess, "run", lambda command, check: commands.append(command))
    recipe_study.queue(["no-hints", "hints-film"], [0, 1], [], "hints")
    recipe_study.queue(["ema"], [2], [], "recipe")
    assert [" ".join(command) for command in commands] == [
        "dvc exp run --queue --name no-hints-s0 -S train.hints=[] -S train.seed=0",
        (
            "dvc exp run --queue --name hints-film-s0 -S train.hints=[skin,hair] -S train.hint_injection=film "
            "-S train.seed=0"
        ),
        "dvc exp run --queue --name no-hints-s1 -S train.hints=[] -S train.seed=1",
        (
            "dvc exp run --queue --name hints-film-s1 -S train.hints=[skin,hair] -S train.hint_injection=film "
            "-S train.seed=1"
        ),
        (
            "dvc exp run --queue --name ema-s2 -S train.hints=[] -S train.upsample=transposed -S train.ema_decay=0.995 "
            "-S train.discriminator_scales=1 -S train.lambda_feature_matching=0.0 -S train.spectral_norm=false "
            "-S train.augment_d=[] -S train.lambda_ssim=0.0 -S train.seed=2"
        ),
    ]


def test_hint_injection_trains_each_injection_on_the_toy_colour_task():
    output = run_benchmark(
        "hint_injection.py",
        "--size",
        "32",
        "--steps",
        "2",
        "--batch",
        "4",
        "--ngf",
        "4",
        "--pairs",
        "8",
        "--seeds",
        "0",
    )
    rows = [line.split() for line in output.splitlines()]
    rows = [row for row in rows if row and row[0] in ("none", "channels", "film")]
    assert [row[0] for row in rows] == ["none", "channels", "film"]
    assert rows[0][1] == rows[0][2], "without hints the L1 with hints is the same"
    assert all(0 < float(value) < 2 for row in rows for value in row[1:3])


def test_recipe_study_reads_only_finished_experiments_and_finds_their_generator_in_the_cache():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import recipe_study

    def revision(rev: str, data_rev: str, timestamp: str | None) -> dict:
        eval_json = {"metrics/eval.json": {"data": {"psnr": 18.0}}}
        return {"rev": rev, "error": None, "data": {"rev": data_rev, "timestamp": timestamp, "metrics": eval_json}}

    shown = [
        {"rev": "workspace", "experiments": None},
        {
            "rev": "abc",
            "experiments": [
                {"name": "plain-s0", "revs": [revision("1ae7", "1ae7", "2026-12-02T06:35:52")]},
                {"name": "ema-s0", "revs": [revision("4724", "workspace", None)]},  # still running
            ],
        },
    ]
    assert recipe_study.finished_revisions(shown) == {"plain-s0": "1ae7"}
    assert recipe_study.experiments(shown) == {"plain-s0": {"psnr": 18.0}}
    lock = {"stages": {"train": {"outs": [{"path": "models/generator.pt", "md5": "fddce71db6a6455935aa31d9b68eb329"}]}}}
    cached = recipe_study._cached_output(lock, "train", "models/generator.pt")
    assert cached == Path(".dvc/cache/files/md5/fd/dce71db6a6455935aa31d9b68eb329")
