import copy
import math

import pytest
import torch
from tiny_pairs import assert_same_weights

from sketch2face.config import PAPER_PIX2PIX, TrainParams
from sketch2face.models.cpu import GemmConv2d, GemmConvTranspose2d
from sketch2face.models.generator import build_generator
from sketch2face.training.pix2pix import PIX2PIX_LOSSES
from sketch2face.training.step import Pix2PixTrainer

TINY = {"ngf": 4, "ndf": 4, "batch_size": 2, "seed": 3}


def test_cpu_generator_runs_its_convolutions_on_the_cpu_kernels_and_saves_plain_weights():
    trainer = Pix2PixTrainer(TrainParams(**TINY), image_size=32)
    convolutions = [
        m for m in trainer.generator.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))
    ]
    assert convolutions and all(isinstance(m, (GemmConv2d, GemmConvTranspose2d)) for m in convolutions)
    assert not any(isinstance(m, (GemmConv2d, GemmConvTranspose2d)) for m in trainer.discriminator.modules())
    assert trainer.generator.state_dict().keys() == build_generator(trainer.generator.config).state_dict().keys()


def test_the_paper_settings_train_pix2pix_as_published_and_the_defaults_the_recipe():
    paper = Pix2PixTrainer(TrainParams(**TINY, **PAPER_PIX2PIX), image_size=32)
    recipe = Pix2PixTrainer(TrainParams(**TINY), image_size=32)
    has_transposed = [
        any(isinstance(m, torch.nn.ConvTranspose2d) for m in trainer.generator.modules()) for trainer in (paper, recipe)
    ]
    assert has_transposed == [True, False]
    assert paper.average is None and recipe.average is not None
    assert paper.loss_names == PIX2PIX_LOSSES and "loss_G_SSIM" in recipe.loss_names
    batch = torch.zeros(2, 1, 32, 32)
    assert paper._view(batch).changes_nothing and not recipe._view(batch).changes_nothing
    assert len(paper.discriminator.scales) == 1 and not paper.objective.matches_features


def test_cpu_discriminator_runs_channels_last_on_nchw_batches():
    trainer = Pix2PixTrainer(TrainParams(**TINY), image_size=32)
    convolution_weights = [p for p in trainer.discriminator.parameters() if p.dim() == 4]
    assert all(
        p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous() for p in convolution_weights
    )
    assert all(p.is_contiguous() for p in trainer.generator.parameters())
    activations = []
    trainer.discriminator.scales[0].blocks[0].register_forward_hook(
        lambda layer, inputs, output: activations.append(output)
    )
    pair = torch.rand(2, 1, 32, 32), torch.rand(2, 3, 32, 32)
    logits = trainer.discriminator(*pair)[0][-1]
    assert activations[0].is_contiguous(memory_format=torch.channels_last) and not activations[0].is_contiguous()
    reference = copy.deepcopy(trainer.discriminator).to(memory_format=torch.contiguous_format)
    assert torch.allclose(logits, reference(*pair)[0][-1], atol=1e-5)


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
    assert_same_weights(resumed["same layout"], resumed["other layout"])


def test_bf16_step_on_the_cpu_trains_in_bf16_with_finite_losses():
    trainer = Pix2PixTrainer(TrainParams(**TINY, precision="bf16"), image_size=32)
    networks = {"generator": trainer.generator, "discriminator": trainer.discriminator}
    before = {name: copy.deepcopy(list(network.parameters())) for name, network in networks.items()}
    fake_dtypes = []
    trainer.generator.register_forward_hook(lambda layer, inputs, output: fake_dtypes.append(output.dtype))
    logs = trainer.train_step(torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1)
    assert fake_dtypes == [torch.bfloat16]
    assert set(logs) == {*PIX2PIX_LOSSES, "loss_G_SSIM"} and all(math.isfinite(value) for value in logs.values())
    for name, network in networks.items():
        unchanged = sum(torch.equal(old, new) for old, new in zip(before[name], network.parameters(), strict=True))
        assert unchanged == 0, f"{unchanged} {name} parameters were not updated"


def test_hint_dropout_leaves_out_each_hint_of_each_sample_at_its_rate_from_torchs_generator():
    trainer = Pix2PixTrainer(TrainParams(**TINY, hint_dropout=0.3), image_size=32)
    appearance = torch.tensor([[[50.0, 10.0, 20.0], [20.0, 2.0, 3.0]]]).expand(2000, 2, 3)
    torch.manual_seed(0)
    hints = trainer.training_hints(appearance, 2000)
    absent = hints.isnan().all(dim=-1)
    assert hints.isnan().any(dim=-1).equal(absent), "a hint is left out whole"
    assert absent.float().mean(dim=0).tolist() == pytest.approx([0.3, 0.3], abs=0.04)
    combinations = {tuple(row) for row in absent.tolist()}
    assert combinations == {(False, False), (False, True), (True, False), (True, True)}, "each hint on its own"
    assert torch.equal(hints[~absent], appearance[~absent]) and not appearance.isnan().any(), "kept values unchanged"
    torch.manual_seed(0)
    assert torch.equal(trainer.training_hints(appearance, 2000).isnan(), hints.isnan()), "torch's generator decides"
    never = Pix2PixTrainer(TrainParams(**TINY, hint_dropout=0.0), image_size=32)
    assert torch.equal(never.training_hints(appearance, 2000), appearance)
    assert never.training_hints(None, 3).isnan().all(), "a batch without measured colours has no hints"
    assert Pix2PixTrainer(TrainParams(**TINY, hints=()), image_size=32).training_hints(appearance, 2000) is None


def test_the_discriminator_judges_sketch_and_photo_only_whatever_the_hints():
    with_hints = Pix2PixTrainer(TrainParams(**TINY), image_size=32)
    without = Pix2PixTrainer(TrainParams(**TINY, hints=()), image_size=32)
    assert with_hints.discriminator.state_dict().keys() == without.discriminator.state_dict().keys()
    first = [p.shape for p in with_hints.discriminator.parameters()]
    assert first == [p.shape for p in without.discriminator.parameters()]
    logs = with_hints.train_step(
        torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 2, 3) * 50
    )
    assert all(math.isfinite(value) for value in logs.values())


def test_the_hint_free_pass_generates_the_batch_again_without_hints():
    trainer = Pix2PixTrainer(TrainParams(**TINY, hint_free_pass=True, hint_dropout=0.0), image_size=32)
    calls = []
    trainer.generator.register_forward_hook(lambda layer, inputs, output: calls.append(inputs[1].clone()))
    appearance = torch.tensor([[[50.0, 10.0, 20.0], [20.0, 2.0, 3.0]]]).expand(2, 2, 3)
    batch = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    logs = trainer.train_step(*batch, appearance)
    assert len(calls) == 2 and not calls[0].isnan().any() and calls[1].isnan().all(), "with hints, then without"
    assert logs["loss_G_hint_free"] > 0
    calls.clear()
    assert trainer.train_step(*batch)["loss_G_hint_free"] == 0, "no hints given: nothing to hold"
    assert len(calls) == 2, "every step makes both passes, as every DDP rank must"
