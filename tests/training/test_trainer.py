import copy
import math
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
import torch

from sketch2face.config import TrainParams
from sketch2face.data.dataset import JitteredPairs, load_oriented_split
from sketch2face.data.images import read_image
from sketch2face.data.records import PAIRS_FILE, SourceError
from sketch2face.io import write_image
from sketch2face.models.generator import load_generator
from sketch2face.training.distributed import ProcessGroup
from sketch2face.training.validation import validate
from sketch2face.training.trainer import (
    BEST_GENERATOR_FILE,
    LOSS_NAMES,
    LoopState,
    Pix2PixTrainer,
    TrainingInterrupted,
    TrainOutputs,
    fit,
    offline_tracker,
    summarise,
    train,
)
from tiny_pairs import learnable_pairs, write_pairs_dir

TINY = dict(ngf=4, ndf=4, batch_size=2, seed=3)


@pytest.fixture
def pairs_dir(tmp_path) -> Path:
    return write_pairs_dir(tmp_path / "pairs", {"train": 6, "val": 2, "test": 2})


def test_training_logs_each_epochs_learning_rate_of_the_linear_schedule(tmp_path):
    outputs = _outputs(tmp_path)
    _fit(outputs, epochs=2, epochs_decay=2, lr=3e-4)
    log = pd.read_csv(outputs.log, sep="\t")
    assert list(log["lr"]) == pytest.approx([3e-4, 3e-4, 2e-4, 1e-4]), "2 constant epochs, then 1 - k/3 of the lr"


def _fit(outputs: TrainOutputs, epochs: int = 2, on_step=lambda step, logs: None, **overrides) -> Pix2PixTrainer:
    params = TrainParams(**{**TINY, "epochs_constant": epochs, "epochs_decay": 1, **overrides})
    trainer = Pix2PixTrainer(params, image_size=32)
    pairs = learnable_pairs(5)
    fit(trainer, JitteredPairs(pairs, jitter=1.125, flip=True), pairs, outputs, "fingerprint", on_step)
    return trainer


def _outputs(root) -> TrainOutputs:
    return TrainOutputs.in_dirs(root / "models", root / "metrics")


def _assert_same_weights(first: Pix2PixTrainer, second: Pix2PixTrainer) -> None:
    for network in ("generator", "discriminator"):
        a, b = getattr(first, network).state_dict(), getattr(second, network).state_dict()
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{network}.{key} differs"


def test_training_reduces_l1_on_a_learnable_mapping(tmp_path):
    params = TrainParams(**TINY, epochs_constant=40, epochs_decay=0)
    trainer = Pix2PixTrainer(params, image_size=32)
    pairs = learnable_pairs()
    loop = fit(trainer, JitteredPairs(pairs, 1.0, False), None, _outputs(tmp_path), "f")
    assert loop.history[-1]["loss_G_L1"] < 0.75 * loop.history[0]["loss_G_L1"]


def test_cpu_discriminator_runs_channels_last_on_nchw_batches():
    trainer = Pix2PixTrainer(TrainParams(**TINY), image_size=32)
    convolution_weights = [p for p in trainer.discriminator.parameters() if p.dim() == 4]
    assert all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous() for p in convolution_weights)
    assert all(p.is_contiguous() for p in trainer.generator.parameters())
    activations = []
    trainer.discriminator.model[0].register_forward_hook(lambda layer, inputs, output: activations.append(output))
    pair = torch.rand(2, 1, 32, 32), torch.rand(2, 3, 32, 32)
    logits = trainer.discriminator(*pair)
    assert activations[0].is_contiguous(memory_format=torch.channels_last) and not activations[0].is_contiguous()
    reference = copy.deepcopy(trainer.discriminator).to(memory_format=torch.contiguous_format)
    assert torch.allclose(logits, reference(*pair), atol=1e-5)


def _other_layout(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.dim() != 4:
        return tensor
    return tensor.contiguous() if not tensor.is_contiguous() else tensor.contiguous(memory_format=torch.channels_last)


def test_optimizer_state_saved_in_another_layout_resumes_the_same_steps():
    """As when a run checkpointed on CUDA (both networks NHWC) resumes on the CPU (U-Net NCHW)."""
    params = TrainParams(**TINY)
    source, target = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    first = Pix2PixTrainer(params, image_size=32)
    first.train_step(source, target)
    state = copy.deepcopy(first.state_dict())
    relaid = copy.deepcopy(state)
    for optimizer in ("optimizer_g", "optimizer_d"):
        for moments in relaid[optimizer]["state"].values():
            moments.update({name: _other_layout(moments[name]) for name in ("exp_avg", "exp_avg_sq")})
    resumed = {}
    for name, checkpoint in (("same layout", state), ("other layout", relaid)):
        resumed[name] = Pix2PixTrainer(params, image_size=32)
        resumed[name].load_state_dict(checkpoint)
        torch.manual_seed(5)  # dropout
        resumed[name].train_step(source, target)
    _assert_same_weights(resumed["same layout"], resumed["other layout"])


def test_same_seed_same_weights(tmp_path):
    _assert_same_weights(_fit(_outputs(tmp_path / "a")), _fit(_outputs(tmp_path / "b")))


def test_on_step_sees_every_step_with_its_losses(tmp_path):
    seen = []
    _fit(_outputs(tmp_path), epochs=1, on_step=lambda step, logs: seen.append((step, logs)))
    assert [step for step, _ in seen] == [1, 2, 3, 4, 5, 6], "5 pairs in batches of 2: 3 steps x 2 epochs"
    assert all(set(logs) == {"loss_G_GAN", "loss_G_L1", "loss_D_real", "loss_D_fake"} for _, logs in seen)
    assert all(math.isfinite(value) for _, logs in seen for value in logs.values())


@pytest.mark.parametrize("stop_at", [2, 3, 6])  # mid-epoch, at an epoch end, in the last epoch
def test_interrupted_run_resumes_bit_identically(tmp_path, stop_at):
    """Ctrl-C at a step, then a new process-like start: the same weights as never interrupted."""
    reference = _fit(_outputs(tmp_path / "reference"), dropout=True)

    def interrupt(step: int, logs: dict) -> None:
        if step == stop_at:
            os.kill(os.getpid(), signal.SIGINT)

    outputs = _outputs(tmp_path / "interrupted")
    with pytest.raises(TrainingInterrupted):
        _fit(outputs, on_step=interrupt, dropout=True)
    seen = []
    resumed = _fit(outputs, on_step=lambda step, logs: seen.append(step), dropout=True)
    assert seen[0] == stop_at + 1
    _assert_same_weights(reference, resumed)
    assert (tmp_path / "reference/metrics/train_log.tsv").read_text() == (outputs.log).read_text()


def test_periodic_checkpoints_resume_exactly(tmp_path):
    """A kill between checkpoints loses only the steps since the last one, and changes nothing else."""
    reference = _fit(_outputs(tmp_path / "reference"), checkpoint_every_steps=2)
    outputs = _outputs(tmp_path / "killed")

    class Killed(Exception):
        pass

    def crash(step: int, logs: dict) -> None:
        if step == 5:
            raise Killed  # like kill -9: no chance to save; the checkpoint of step 4 remains

    with pytest.raises(Killed):
        _fit(outputs, on_step=crash, checkpoint_every_steps=2)
    seen = []
    resumed = _fit(outputs, on_step=lambda step, logs: seen.append(step), checkpoint_every_steps=2)
    assert seen[0] == 5
    _assert_same_weights(reference, resumed)


def test_finished_checkpoint_of_the_same_run_is_not_trained_again(tmp_path):
    outputs = _outputs(tmp_path)
    first = _fit(outputs)
    seen = []
    again = _fit(outputs, on_step=lambda step, logs: seen.append(step))
    assert seen == []
    _assert_same_weights(first, again)


def test_checkpoint_of_another_config_is_not_resumed(tmp_path, capsys, pairs_dir):
    """`dvc exp run -S train.lr=...` after a finished run must train the new config from scratch."""
    outputs = _outputs(tmp_path / "out")
    train(TrainParams(**TINY, epochs_constant=1, epochs_decay=0), pairs_dir, outputs, offline_tracker())
    changed = TrainParams(**{**TINY, "lr": 1e-3}, epochs_constant=1, epochs_decay=0)
    summary = train(changed, pairs_dir, outputs, offline_tracker())
    assert "starting fresh" in capsys.readouterr().out
    fresh = train(changed, pairs_dir, _outputs(tmp_path / "fresh"), offline_tracker())
    assert summary["final_loss_G_L1"] == fresh["final_loss_G_L1"]


@pytest.mark.parametrize(
    "content, problem",
    [(b"PK\x03\x04 cut short", "cannot be read"), (None, "is not a training checkpoint (it holds a list)")],
    ids=["truncated", "foreign"],
)
def test_unusable_checkpoint_is_named_and_training_starts_fresh(tmp_path, capsys, content, problem):
    outputs = _outputs(tmp_path / "out")
    outputs.checkpoint.parent.mkdir(parents=True)
    if content is None:
        torch.save([1, 2, 3], outputs.checkpoint)
    else:
        outputs.checkpoint.write_bytes(content)
    trained = _fit(outputs, epochs=1)
    assert f"WARNING: {outputs.checkpoint} {problem}" in capsys.readouterr().out
    _assert_same_weights(trained, _fit(_outputs(tmp_path / "fresh"), epochs=1))
    assert torch.load(outputs.checkpoint, weights_only=False)["loop"]["epoch"] == 2, "overwritten by this run's"


def test_train_writes_validation_columns_and_the_best_generator(tmp_path, pairs_dir):
    outputs = _outputs(tmp_path)
    summary = train(TrainParams(**TINY, epochs_constant=2, epochs_decay=1), pairs_dir, outputs, offline_tracker())
    log = pd.read_csv(outputs.log, sep="\t")
    assert list(log["epoch"]) == [1, 2, 3]
    assert {"val_l1", "val_psnr"} <= set(log.columns) and log["val_psnr"].between(0, 100).all()
    assert summary["best_val_l1"] == pytest.approx(log["val_l1"].min(), abs=1e-4)
    assert summary["best_epoch"] == int(log["val_l1"].idxmin()) + 1
    assert (outputs.generator.parent / BEST_GENERATOR_FILE).exists() and outputs.checkpoint.exists()


def test_best_generator_keeps_the_best_val_epoch_not_the_last(tmp_path, pairs_dir):
    """Val photos are the sketches themselves, the inverse of the train mapping: learning makes val L1 worse."""
    for path in (pairs_dir / "val").glob("*.png"):
        pair = read_image(path, "rgb").copy()
        pair[:, pair.shape[1] // 2 :] = 255 - pair[:, pair.shape[1] // 2 :]
        write_image(path, pair)
    outputs = _outputs(tmp_path)
    summary = train(TrainParams(**{**TINY, "lr": 1e-2}, epochs_constant=2, epochs_decay=0), pairs_dir, outputs, offline_tracker())
    assert summary["best_epoch"] == 1, "precondition: the last epoch is not the best"
    val = load_oriented_split(pairs_dir, "val", "sketch_to_photo", input_channels=1, output_channels=3)

    def val_l1(path: Path) -> float:
        return validate(load_generator(path), val, TINY["batch_size"], torch.device("cpu"), "fp32")["val_l1"]

    assert val_l1(outputs.best_generator) == pytest.approx(summary["best_val_l1"], abs=1e-4)
    assert val_l1(outputs.generator) > summary["best_val_l1"] + 0.01


def test_images_per_second_counts_the_images_of_every_process():
    params = TrainParams(**TINY)
    loop = LoopState(global_step=10, seconds=2.0, history=[{"epoch": 1, **dict.fromkeys(LOSS_NAMES, 0.5)}])
    summary = summarise(params, loop, train_pairs=20, val_pairs=0, group=ProcessGroup(rank=0, world_size=4))
    assert summary["images_per_second"] == 10 * 2 * 4 / 2.0, "steps x batch_size x processes / seconds"


def test_bf16_step_on_the_cpu_trains_in_bf16_with_finite_losses():
    trainer = Pix2PixTrainer(TrainParams(**TINY, precision="bf16"), image_size=32)
    networks = {"generator": trainer.generator, "discriminator": trainer.discriminator}
    before = {name: copy.deepcopy(list(network.parameters())) for name, network in networks.items()}
    fake_dtypes = []
    trainer.generator.register_forward_hook(lambda layer, inputs, output: fake_dtypes.append(output.dtype))
    logs = trainer.train_step(torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1)
    assert fake_dtypes == [torch.bfloat16]
    assert set(logs) == set(LOSS_NAMES) and all(math.isfinite(value) for value in logs.values())
    for name, network in networks.items():
        unchanged = sum(torch.equal(old, new) for old, new in zip(before[name], network.parameters()))
        assert unchanged == 0, f"{unchanged} {name} parameters were not updated"


def test_empty_val_split_skips_validation(tmp_path, capsys):
    pairs_dir = write_pairs_dir(tmp_path / "pairs", {"train": 4, "test": 1})
    outputs = _outputs(tmp_path)
    summary = train(TrainParams(**TINY, epochs_constant=1, epochs_decay=0), pairs_dir, outputs, offline_tracker())
    assert "val split is empty" in capsys.readouterr().out
    assert summary["val_pairs"] == 0 and "best_val_l1" not in summary
    assert outputs.best_generator.exists()


def test_an_empty_train_split_is_a_user_error_naming_the_pairs_table(tmp_path):
    pairs_dir = write_pairs_dir(tmp_path / "pairs", {"val": 2, "test": 1})
    with pytest.raises(SourceError, match=f"{pairs_dir / PAIRS_FILE}: the train split is empty"):
        train(TrainParams(**TINY), pairs_dir, _outputs(tmp_path), offline_tracker())


def test_photo_to_sketch_swaps_input_and_target(pairs_dir):
    forward = load_oriented_split(pairs_dir, "train", "sketch_to_photo", input_channels=1, output_channels=3)
    backward = load_oriented_split(pairs_dir, "train", "photo_to_sketch", input_channels=3, output_channels=1)
    assert backward.sketches.shape[1] == 3 and backward.photos.shape[1] == 1
    assert torch.equal(backward.sketches, forward.photos) and torch.equal(backward.photos, forward.sketches)
    assert load_oriented_split(pairs_dir, "missing", "sketch_to_photo", 1, 3) is None
