"""The recipe study: each option beyond pix2pix alone, and their best combination, against plain pix2pix.

Run inside a project whose params.yaml points at the data to study (the README's real-data setting:
CUHK at 128 px, ngf = ndf = 64, batch 1, about 2000 steps), with everything committed:

    python benchmarks/recipe_study.py queue --seeds 0 1      # queues every arm x seed as a DVC experiment
    dvc exp run --run-all                                    # runs them one after another
    python benchmarks/recipe_study.py queue --arms recipe --seeds 0 1 --recipe ema resize augment
    python benchmarks/recipe_study.py table                  # the table, from `dvc exp show --json`
    python benchmarks/recipe_study.py table --json results.json --save study.json   # keep the record

Every arm trains for the same steps (the params file's epochs) and is scored by the evaluate stage
on the test split; the val columns (from metrics/train.json) are the ones to choose settings by.
`--reference FILE` adds rows scored elsewhere on the same test faces, e.g. pytorch-CycleGAN-and-
pix2pix's own train.py/test.py, as {"name": {"psnr": [...], "ssim": [...], ...}} with a list per seed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path
from typing import Any, Iterable

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
TEST_COLUMNS = ("psnr", "ssim", "ssim_grey", "fsim", "identity_rank1")
VAL_COLUMNS = ("final_val_psnr", "final_val_ssim")
TIME_COLUMN = "train_seconds"
PLAIN = "plain"


def arm_settings(arm: str, recipe: Iterable[str]) -> dict[str, str]:
    """`recipe` combines the named single-option arms into one."""
    if arm != "recipe":
        return ARMS[arm]
    combined: dict[str, str] = {}
    for part in recipe:
        combined.update(ARMS[part])
    return combined


def queue(arms: list[str], seeds: list[int], recipe: list[str]) -> None:
    """Seed by seed, so that the first seed of every arm is done before any arm's second."""
    for seed in seeds:
        for arm in arms:
            settings = {**arm_settings(arm, recipe), "train.seed": str(seed)}
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


def experiments(shown: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """name -> every metric of that experiment, from `dvc exp show --json` (DVC 3's layout)."""
    found = {}
    for commit in shown:
        for experiment in commit.get("experiments") or []:
            name = experiment.get("name")
            for revision in experiment.get("revs") or []:
                data = revision.get("data") or {}
                if not name or revision.get("error") or not data.get("metrics"):
                    continue
                values: dict[str, Any] = {}
                for metrics_file in data["metrics"].values():
                    values.update(_flatten(metrics_file.get("data") or {}))
                found[name] = values
    return found


def by_arm(found: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Experiments named `<arm>-s<seed>` grouped by arm, in ARMS order (others after); other names are skipped."""
    arms: dict[str, list[dict[str, Any]]] = {}
    for name, values in sorted(found.items()):
        arm, _, seed = name.rpartition("-s")
        if arm and seed.isdigit():
            arms.setdefault(arm, []).append(values)
    order = list(ARMS)
    return dict(sorted(arms.items(), key=lambda item: (order.index(item[0]) if item[0] in order else len(order), item[0])))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    queued = commands.add_parser("queue", help="queue arms x seeds as DVC experiments")
    queued.add_argument("--arms", nargs="+", default=list(ARMS), choices=[*ARMS, "recipe"])
    queued.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    queued.add_argument("--recipe", nargs="+", default=[], choices=[arm for arm in ARMS if arm != PLAIN],
                        help="the single-option arms the `recipe` arm combines")
    shown = commands.add_parser("table", help="print the table of finished experiments")
    shown.add_argument("--json", type=Path, help="a saved `dvc exp show --json` instead of asking DVC")
    shown.add_argument("--save", type=Path, help="also save `dvc exp show --json` here")
    shown.add_argument("--reference", type=Path, help="rows scored elsewhere on the same test faces (JSON)")
    args = parser.parse_args()

    if args.command == "queue":
        queue(args.arms, args.seeds, args.recipe)
        return
    if args.json:
        text = args.json.read_text()
    else:
        text = subprocess.run(["dvc", "exp", "show", "--json"], capture_output=True, text=True, check=True).stdout
        if args.save:
            args.save.write_text(text)
    reference = json.loads(args.reference.read_text()) if args.reference else {}
    print(table(by_arm(experiments(json.loads(text))), reference))


if __name__ == "__main__":
    main()
