"""The recipe study: each option beyond pix2pix alone, and their best combination, against plain pix2pix;
and the hints study: a generator with appearance hints against one without.

Run inside a project whose params.yaml points at the data to study (the README's real-data setting:
CUHK at 128 px, ngf = ndf = 64, batch 1, about 2000 steps), with everything committed:

    python benchmarks/recipe_study.py queue --seeds 0 1      # queues every arm x seed as a DVC experiment
    dvc exp run --run-all                                    # runs them one after another
    python benchmarks/recipe_study.py queue --arms recipe --seeds 0 1 --recipe ema resize augment
    python benchmarks/recipe_study.py table                  # the table, from `dvc exp show --json`
    python benchmarks/recipe_study.py table --json results.json --save study.json   # keep the record
    python benchmarks/recipe_study.py rescore --inference image_stats --save rescored.json   # run another way
    python benchmarks/recipe_study.py table --rescored rescored.json

    python benchmarks/recipe_study.py queue --study hints --arms no-hints hints hints-bare-d01 --seeds 0 1
    python benchmarks/recipe_study.py table --study hints    # per tone group: tone shift without / with hints

Every arm trains for the same steps (the params file's epochs) and is scored by the evaluate stage
on the test split; the val columns (from metrics/train.json) are the ones to choose settings by.
The recipe study's arms train without hints, as pix2pix does, and start from the paper's
settings (`PAPER_PIX2PIX`, not the defaults, which are the recipe): each adds its options to
pix2pix. `--reference FILE` adds rows scored elsewhere on the same test faces, e.g. pytorch-CycleGAN-and-pix2pix's own train.py/test.py, as
{"name": {"psnr": [...], "ssim": [...], ...}} with a list per seed.

The hints table groups the test faces by `tone_group` where the data has it (the demo) and else by
`skin_tone` (thirds by measured skin lightness, any data; `--group` chooses). Per arm: PSNR and SSIM
without and with the measured hints, the mean over tone groups of |group mean tone shift| and the
tone-shift gap across groups, each without and with hints, and the PSNR without hints against the
no-hints arm (the issue's bar: with hints, shift and gap at least halved and PSNR up; without
hints, within 0.2 dB of the no-hints arm).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sketch2face.config import PAPER_PIX2PIX

# Each arm's settings over the study's params file; `plain` is pix2pix as the paper has it.
ARMS: dict[str, dict[str, str]] = {
    "plain": {},
    "resize": {"train.upsample": "resize"},
    "ema": {"train.ema_decay": "0.995"},
    "multiscale": {"train.discriminator_scales": "2", "train.lambda_feature_matching": "10"},
    "spectral": {"train.spectral_norm": "true"},
    "augment": {"train.augment_d": "[translation,cutout,colour]"},
    "ssim": {"train.lambda_ssim": "10"},
    "test_batch": {"evaluate.inference": "test_batch"},  # plain pix2pix scored with the paper's test protocol
}
# The hints study's arms: no hints, and both hints entering as input planes or as a FiLM of the bottleneck;
# input planes with the hint-free pass (at the default dropout, 0.2, 0.1 and none), and with less dropout alone;
# the pass at 0.1 with hinted faces relit by up to 1 or 2 stops.
_PASS_AT_01 = {"train.hints": "[skin,hair]", "train.hint_free_pass": "true", "train.hint_dropout": "0.1"}
HINT_ARMS: dict[str, dict[str, str]] = {
    "no-hints": {"train.hints": "[]"},
    "hints": {"train.hints": "[skin,hair]", "train.hint_injection": "channels"},
    "hints-film": {"train.hints": "[skin,hair]", "train.hint_injection": "film"},
    "hints-bare": {"train.hints": "[skin,hair]", "train.hint_free_pass": "true"},
    "hints-bare-d02": {"train.hints": "[skin,hair]", "train.hint_free_pass": "true", "train.hint_dropout": "0.2"},
    "hints-d03": {"train.hints": "[skin,hair]", "train.hint_dropout": "0.3"},
    "hints-bare-d01": _PASS_AT_01,
    "hints-bare-d0": {"train.hints": "[skin,hair]", "train.hint_free_pass": "true", "train.hint_dropout": "0"},
    "hints-bare-d01-relight1": {**_PASS_AT_01, "train.hint_relight_stops": "1"},
    "hints-bare-d01-relight2": {**_PASS_AT_01, "train.hint_relight_stops": "2"},
}
STUDIES = {"recipe": ARMS, "hints": HINT_ARMS}


def _override(value: Any) -> str:
    """A params value as `dvc exp run -S key=<value>` spells it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


# Settings every arm of a study shares: the recipe study's arms start from the paper's pix2pix, without hints.
PAPER_BASE = {f"train.{key}": _override(value) for key, value in PAPER_PIX2PIX.items()}
STUDY_BASE = {"recipe": {"train.hints": "[]", **PAPER_BASE}, "hints": {}}
TEST_COLUMNS = ("psnr", "ssim", "ssim_grey", "fsim", "identity_rank1")
VAL_COLUMNS = ("final_val_psnr", "final_val_ssim")
TIME_COLUMN = "train_seconds"
PLAIN = "plain"
NO_HINTS = "no-hints"
HINTED = "hinted_"
TONE_ATTRIBUTES = ("tone_group", "skin_tone")  # the first the experiments have groups the hints table
TONE_SHIFT = "tone_shift"
MIN_GROUP = 5  # images; smaller groups are too noisy to count (evaluate.min_group_count's default)


def arm_settings(arm: str, recipe: Iterable[str]) -> dict[str, str]:
    """`recipe` combines the named single-option arms into one."""
    if arm != "recipe":
        return ARMS[arm]
    combined: dict[str, str] = {}
    for part in recipe:
        combined.update(ARMS[part])
    return combined


def queue(arms: list[str], seeds: list[int], recipe: list[str], study: str = "recipe") -> None:
    """Seed by seed, so that the first seed of every arm is done before any arm's second."""
    for seed in seeds:
        for arm in arms:
            chosen = arm_settings(arm, recipe) if study == "recipe" else STUDIES[study][arm]
            settings = {**STUDY_BASE[study], **chosen, "train.seed": str(seed)}
            command = ["dvc", "exp", "run", "--queue", "--name", f"{arm}-s{seed}"]
            for key, value in settings.items():
                command += ["-S", f"{key}={value}"]
            print(" ".join(command), flush=True)
            subprocess.run(command, check=True)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _finished(shown: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, revision) of every finished experiment in `dvc exp show --json` (DVC 3's layout)."""
    for commit in shown:
        for experiment in commit.get("experiments") or []:
            name = experiment.get("name")
            for revision in experiment.get("revs") or []:
                data = revision.get("data") or {}
                finished = data.get("timestamp") and data.get("rev") != "workspace"  # a running one shows the workspace
                if name and not revision.get("error") and finished and data.get("metrics"):
                    yield name, revision


def experiments(shown: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> every metric of that experiment."""
    found = {}
    for name, revision in _finished(shown):
        values: dict[str, Any] = {}
        for metrics_file in revision["data"]["metrics"].values():
            values.update(_flatten(metrics_file.get("data") or {}))
        found[name] = values
    return found


def finished_revisions(shown: list[dict[str, Any]]) -> dict[str, str]:
    """name -> the git revision of every finished experiment."""
    return {name: revision["rev"] for name, revision in _finished(shown)}


def by_arm(found: dict[str, dict[str, Any]], known: Iterable[str] = ARMS) -> dict[str, list[dict[str, Any]]]:
    """Experiments named `<arm>-s<seed>` grouped by arm, in the order of `known` (others after).

    Other names are skipped."""
    arms: dict[str, list[dict[str, Any]]] = {}
    for name, values in sorted(found.items()):
        arm, _, seed = name.rpartition("-s")
        if arm and seed.isdigit():
            arms.setdefault(arm, []).append(values)
    order = list(known)
    return dict(
        sorted(arms.items(), key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0]))
    )


def _mean(values: list[float]) -> str:
    if not values:
        return "-"
    spread = f" ±{(max(values) - min(values)) / 2:.3f}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):.3f}{spread}"


def table(arms: dict[str, list[dict[str, Any]]], reference: dict[str, dict[str, list[float]]]) -> str:
    plain_time = statistics.fmean(run[TIME_COLUMN] for run in arms.get(PLAIN, [])) if arms.get(PLAIN) else None
    header = ["arm", "seeds", *VAL_COLUMNS, *TEST_COLUMNS, "train s", "x plain time"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arm, runs in arms.items():
        cells = [arm, str(len(runs))]
        cells += [_mean([run[column] for run in runs if column in run]) for column in (*VAL_COLUMNS, *TEST_COLUMNS)]
        seconds = statistics.fmean(run[TIME_COLUMN] for run in runs)
        cells += [f"{seconds:.0f}", f"{seconds / plain_time:.2f}" if plain_time else "-"]
        lines.append("| " + " | ".join(cells) + " |")
    for name, metrics in reference.items():
        cells = [name, str(len(next(iter(metrics.values()))))] + ["-"] * len(VAL_COLUMNS)
        cells += [_mean(metrics.get(column, [])) for column in TEST_COLUMNS] + ["-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tone_groups(run: dict[str, Any], attribute: str) -> list[str]:
    """The groups of `attribute` with at least MIN_GROUP test images ('missing' is no tone)."""
    groups = []
    for key, count in run.items():
        parts = key.split(".")
        is_count = len(parts) == 4 and parts[:2] == ["group", attribute] and parts[3] == "count"
        if is_count and parts[2] != "missing" and count >= MIN_GROUP:
            groups.append(parts[2])
    return sorted(groups)


def mean_absolute_shift(run: dict[str, Any], attribute: str, prefix: str = "") -> float | None:
    """Mean over tone groups of |the group's mean tone shift|: how far each group's faces are rendered off."""
    shifts = [run.get(f"group.{attribute}.{group}.{prefix}{TONE_SHIFT}") for group in tone_groups(run, attribute)]
    shifts = [abs(shift) for shift in shifts if shift is not None]
    return statistics.fmean(shifts) if shifts else None


def tone_attribute(arms: dict[str, list[dict[str, Any]]]) -> str:
    keys = {key for runs in arms.values() for run in runs for key in run}
    return next((name for name in TONE_ATTRIBUTES if f"gap.{name}.{TONE_SHIFT}" in keys), TONE_ATTRIBUTES[-1])


def hints_table(arms: dict[str, list[dict[str, Any]]], attribute: str | None = None) -> str:
    """Per arm: quality and tone shift per tone group, without and with the measured hints."""
    attribute = attribute or tone_attribute(arms)
    baseline = [run["psnr"] for run in arms.get(NO_HINTS, []) if "psnr" in run]
    columns = {
        "psnr": lambda run: run.get("psnr"),
        "hinted psnr": lambda run: run.get(f"{HINTED}psnr"),
        "ssim": lambda run: run.get("ssim"),
        "hinted ssim": lambda run: run.get(f"{HINTED}ssim"),
        "mean abs tone shift": lambda run: mean_absolute_shift(run, attribute),
        "hinted mean abs tone shift": lambda run: mean_absolute_shift(run, attribute, HINTED),
        "tone shift gap": lambda run: run.get(f"gap.{attribute}.{TONE_SHIFT}"),
        "hinted tone shift gap": lambda run: run.get(f"gap.{attribute}.{HINTED}{TONE_SHIFT}"),
        "psnr - no-hints psnr": lambda run: (
            run["psnr"] - statistics.fmean(baseline) if baseline and "psnr" in run else None
        ),
    }
    header = ["arm", "seeds", *columns, "train s"]
    lines = [f"tone groups: {attribute} (groups of at least {MIN_GROUP} test images)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arm, runs in arms.items():
        cells = [arm, str(len(runs))]
        cells += [_mean([number for run in runs if (number := value(run)) is not None]) for value in columns.values()]
        seconds = [run[TIME_COLUMN] for run in runs if TIME_COLUMN in run]
        cells.append(f"{statistics.fmean(seconds):.0f}" if len(seconds) == len(runs) else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _committed(revision: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{revision}:{path}"], capture_output=True, text=True, check=True).stdout


def _cached_output(lock: dict[str, Any], stage: str, path: str) -> Path:
    """Where DVC's cache keeps the output `path` of `stage` as the lock file records it."""
    md5 = next(out["md5"] for out in lock["stages"][stage]["outs"] if out["path"] == path)
    return Path(".dvc/cache/files/md5") / md5[:2] / md5[2:]


def _validation(generator_path: Path, inference: str, pairs_dir: Path) -> dict[str, float]:
    """The val split scored as the generator runs with `inference`, under the names train.json gives them."""
    import torch

    from sketch2face.data.dataset import load_oriented_split
    from sketch2face.models.generator import load_generator_file
    from sketch2face.training.validation import validate

    generator, _ = load_generator_file(generator_path)
    config = generator.config
    val = load_oriented_split(pairs_dir, "val", config.direction, config.input_channels, config.output_channels)
    scores = validate(generator, val, 1, torch.device("cpu"), "fp32", inference)
    return {column: scores[column.removeprefix("final_")] for column in VAL_COLUMNS}


def rescore(
    shown: list[dict[str, Any]], inference: str, pairs_dir: Path = Path("data/pairs"), only: Iterable[str] = ()
) -> dict[str, dict[str, Any]]:
    """Every finished experiment's generator, as its dvc.lock records it, evaluated again with `inference`.

    For a change that only concerns how the trained generators are run: the experiments need
    not be trained again. The evaluation is this checkout's `evaluate`, with its default settings, on the test split of
    `pairs_dir` (the study's own by default; another study's with the same images, to compare
    generators across studies).
    """
    import tempfile

    from ruamel.yaml import YAML

    from sketch2face.artifacts import EvalOutputs
    from sketch2face.config import EvaluateParams
    from sketch2face.evaluation.evaluator import evaluate
    from sketch2face.tracking.runs import Tracker

    settings = EvaluateParams(inference=inference, perceptual_metrics=())  # this checkout's defaults otherwise
    scores = {}
    for name, revision in finished_revisions(shown).items():
        if only and name not in only:
            continue
        lock = YAML(typ="safe").load(_committed(revision, "dvc.lock"))
        with tempfile.TemporaryDirectory() as scratch:
            log = Path(scratch) / "train_log.tsv"
            log.write_text(_committed(revision, "metrics/train_log.tsv"))
            outputs = EvalOutputs.in_dirs(Path(scratch) / "metrics", Path(scratch) / "results")
            tracker = Tracker()
            tracker.enabled = False
            generator = _cached_output(lock, "train", "models/generator.pt")
            summary = evaluate(settings, generator, pairs_dir, log, outputs, tracker)
        val = _validation(generator, summary["inference"], pairs_dir)
        train = json.loads(_committed(revision, "metrics/train.json"))
        scores[name] = {**summary, **val, TIME_COLUMN: train[TIME_COLUMN]}
        print(f"{name}: psnr {summary['psnr']:.3f}, ssim {summary['ssim']:.4f} with inference {inference}", flush=True)
    return scores


def grid(shown: list[dict[str, Any]], names: list[str], inference: str, faces: int, path: Path) -> None:
    """The same test faces, evenly spread over the test split: sketch | each experiment's photo | real photo."""
    from ruamel.yaml import YAML

    from sketch2face.data.dataset import load_oriented_split
    from sketch2face.evaluation.report import comparison_grid
    from sketch2face.models.generator import INFERENCE_KEY, load_generator_file
    from sketch2face.models.sketch_to_photo import SketchToPhoto

    revisions = finished_revisions(shown)
    missing = [name for name in names if name not in revisions]
    if missing:
        raise SystemExit(f"recipe_study grid: no finished experiment named {', '.join(missing)}")
    models = []
    for name in names:
        lock = YAML(typ="safe").load(_committed(revisions[name], "dvc.lock"))
        generator, preprocessing = load_generator_file(_cached_output(lock, "train", "models/generator.pt"))
        models.append(SketchToPhoto(generator, {**preprocessing, INFERENCE_KEY: inference}))
    config = models[0].config
    test = load_oriented_split(
        Path("data/pairs"), "test", config.direction, config.input_channels, config.output_channels
    )
    picked = [round(index * (len(test) - 1) / max(faces - 1, 1)) for index in range(faces)]
    sketches = test.sketches[picked]
    columns = [sketches.expand(-1, 3, -1, -1), *(model(sketches) for model in models), test.photos[picked]]
    rows = [[column[row].permute(1, 2, 0).numpy() for column in columns] for row in range(faces)]
    comparison_grid(rows, path)
    print(f"{path}: sketch | {' | '.join(names)} | real, test faces {', '.join(test.ids[i] for i in picked)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    queued = commands.add_parser("queue", help="queue arms x seeds as DVC experiments")
    queued.add_argument("--study", choices=list(STUDIES), default="recipe")
    queued.add_argument(
        "--arms", nargs="+", choices=[*ARMS, "recipe", *HINT_ARMS], help="default: every arm of the study"
    )
    queued.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    queued.add_argument(
        "--recipe",
        nargs="+",
        default=[],
        choices=[arm for arm in ARMS if arm != PLAIN],
        help="the single-option arms the `recipe` arm combines",
    )
    shown = commands.add_parser("table", help="print the table of finished experiments")
    shown.add_argument("--study", choices=list(STUDIES), default="recipe")
    shown.add_argument(
        "--group",
        choices=TONE_ATTRIBUTES,
        help="hints study: the tone grouping (default: tone_group where the data has it, else skin_tone)",
    )
    shown.add_argument("--json", type=Path, help="a saved `dvc exp show --json` instead of asking DVC")
    shown.add_argument("--save", type=Path, help="also save `dvc exp show --json` here")
    shown.add_argument("--reference", type=Path, help="rows scored elsewhere on the same test faces (JSON)")
    shown.add_argument("--rescored", type=Path, help="use the scores `rescore` saved instead of the experiments' own")
    again = commands.add_parser("rescore", help="evaluate every finished experiment's generator again, run another way")
    again.add_argument("--inference", required=True, help="the evaluate.inference to score with")
    again.add_argument("--save", type=Path, required=True, help="where the scores go (JSON, name -> metrics)")
    again.add_argument(
        "--pairs", type=Path, default=Path("data/pairs"), help="the pairs to score on (default data/pairs)"
    )
    again.add_argument("--only", nargs="+", default=[], help="these experiments only (default: every finished one)")
    pictured = commands.add_parser("grid", help="one picture of the same test faces under several experiments")
    pictured.add_argument("names", nargs="+", help="finished experiments, e.g. plain-s0 recipe-s0")
    pictured.add_argument("--inference", default="image_stats", help="how the generators run (default image_stats)")
    pictured.add_argument("--faces", type=int, default=6)
    pictured.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args()

    if args.command == "queue":
        arms = args.arms or list(STUDIES[args.study])
        allowed = [*STUDIES[args.study], *(["recipe"] if args.study == "recipe" else [])]
        wrong = [arm for arm in arms if arm not in allowed]
        if wrong:
            parser.error(f"arms {wrong} are not in the {args.study} study")
        queue(arms, args.seeds, args.recipe, args.study)
        return
    if getattr(args, "json", None):
        text = args.json.read_text()
    else:
        text = subprocess.run(
            ["dvc", "exp", "show", "--json", "--all-commits"], capture_output=True, text=True, check=True
        ).stdout
        if getattr(args, "save", None) and args.command == "table":
            args.save.write_text(text)
    if args.command == "grid":
        grid(json.loads(text), args.names, args.inference, args.faces, args.out)
        return
    if args.command == "rescore":
        args.save.write_text(json.dumps(rescore(json.loads(text), args.inference, args.pairs, args.only), indent=1))
        return
    found = json.loads(args.rescored.read_text()) if args.rescored else experiments(json.loads(text))
    if args.study == "hints":
        studied = {arm: runs for arm, runs in by_arm(found, HINT_ARMS).items() if arm in HINT_ARMS}
        print(hints_table(studied, args.group))
        return
    reference = json.loads(args.reference.read_text()) if args.reference else {}
    print(table({arm: runs for arm, runs in by_arm(found).items() if arm not in HINT_ARMS}, reference))


if __name__ == "__main__":
    main()
