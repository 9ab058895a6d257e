"""What per-step MLflow logging costs the training loop: one write per step against queued batches.

    python benchmarks/step_logging.py                # 500 steps of the 4 pix2pix losses
    python benchmarks/step_logging.py --steps 2000

Both ways log to a fresh SQLite store (MLflow's default, as the pipeline uses it) in a temporary
folder. `write per step` is `Tracker.log_metrics` at every step, as training logged before;
`queued` is `Tracker.queue_step_metrics` with the batch write that the trainer makes before every
checkpoint (`--write-every` steps, the demo's `checkpoint_every_steps`) and when the run ends,
counted in. Compare with a training step: about 13 ms at 256 px, batch 1 on an H100, 77 ms for
the demo's step on the 2-core development CPU.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from sketch2face.tracking import Tracker, runs

LOSSES = ("loss_G_GAN", "loss_G_L1", "loss_D_real", "loss_D_fake")


def milliseconds_per_step(queued: bool, steps: int, write_every: int) -> float:
    started = time.perf_counter()
    with Tracker().start() as tracker:
        for step in range(1, steps + 1):
            losses = dict.fromkeys(LOSSES, 1.0 / step)
            if queued:
                tracker.queue_step_metrics(losses, step)
                if step % write_every == 0:
                    tracker.write_queued()
            else:
                tracker.log_metrics(losses, step=step)
        assert tracker.enabled, "MLflow failed: see the warning above"
    return (time.perf_counter() - started) * 1000 / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--write-every", type=int, default=200, help="steps between batch writes (checkpoints)")
    args = parser.parse_args()
    runs.STEP_METRICS_WRITE_SECONDS = float("inf")  # only the checkpoint-step writes, for a stable figure
    with tempfile.TemporaryDirectory() as folder:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
        Tracker().start().end()  # creates the store's tables outside the timings
        for name, queued in (("write per step", False), ("queued", True)):
            print(
                f"{name:15} {milliseconds_per_step(queued, args.steps, args.write_every):7.3f} ms/step "
                f"({args.steps} steps, run start and end included)",
                flush=True,
            )


if __name__ == "__main__":
    main()
