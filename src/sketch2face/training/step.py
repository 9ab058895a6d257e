"""One pix2pix update: the networks, their optimisers and schedulers, and the D-then-G step.

Everything a resumed run needs from here is in `state_dict`; the loop around it (epochs,
checkpoints, stop requests) lives in `training.loop`. Beyond the paper, each switched on by its
own `train` param: augmentation of what D sees, feature matching, an SSIM term, a weight
average of the generator, which is then the one validated and published, and appearance hints
(each left out of a sample at random, so the generator also learns to do without; with
`hint_free_pass`, the batch is also generated without any; with `hint_relight_stops`, hinted
faces are darkened at random, their skin hint with them). D judges sketch and photo only: a hint
is no evidence of realism.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from sketch2face.config import AlignmentParams, TrainParams
from sketch2face.data.dataset import JitteredPairs
from sketch2face.models.cpu import use_cpu_kernels
from sketch2face.models.discriminator import ConditionalDiscriminator, DiscriminatorConfig, Judgement
from sketch2face.models.generator import Generator, GeneratorConfig, build_generator
from sketch2face.models.hints import select_hints
from sketch2face.training import distributed
from sketch2face.training.augment import AugmentDraw, augment, draw
from sketch2face.training.checkpoint import match_parameter_layouts
from sketch2face.training.device import adam_implementation, autocast, memory_formats
from sketch2face.training.distributed import SINGLE_PROCESS, ProcessGroup
from sketch2face.training.ema import GeneratorAverage
from sketch2face.training.pix2pix import HINT_FREE, Pix2PixObjective
from sketch2face.training.relight import FaceRelighting
from sketch2face.training.schedules import lr_factor

ADAM_BETA2 = 0.999


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The data order and jitter of one epoch depend only on (seed, epoch), not on what ran before."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))


class Pix2PixTrainer:
    """Networks, optimisers and schedulers, and the one D-then-G update of pix2pix."""

    def __init__(
        self,
        params: TrainParams,
        image_size: int,
        device: torch.device | None = None,
        group: ProcessGroup = SINGLE_PROCESS,
        geometry: AlignmentParams | None = None,
    ) -> None:
        """`geometry`: where the pairs' alignment put the eyes (default: the pipeline's), for `hint_relight_stops`."""
        self.params, self.group = params, group
        self.device = device or torch.device("cpu")
        torch.manual_seed(params.seed)
        self.memory_formats = memory_formats(self.device)
        generator = build_generator(GeneratorConfig.from_params(params, image_size))
        if self.device.type == "cpu":
            use_cpu_kernels(generator)
        self.generator: Generator = distributed.synchronise_norms(generator, self.device, group).to(
            self.device, memory_format=self.memory_formats.generator
        )
        # Convolutions follow their weights' layout, so the NCHW batches need no conversion for D.
        self.discriminator: ConditionalDiscriminator = distributed.synchronise_norms(
            ConditionalDiscriminator(DiscriminatorConfig.from_params(params)), self.device, group
        ).to(self.device, memory_format=self.memory_formats.discriminator)
        self.generator_ddp = distributed.data_parallel(self.generator, self.device, group)
        self.discriminator_ddp = distributed.data_parallel(self.discriminator, self.device, group)
        self.objective = Pix2PixObjective(params)
        self.average = GeneratorAverage(self.generator, params.ema_decay) if params.ema_decay else None
        self.relighting = None
        if params.hints and params.hint_relight_stops:
            skin = params.hints.index("skin")
            self.relighting = FaceRelighting(params.hint_relight_stops, skin, geometry or AlignmentParams(), image_size)

        adam = dict(lr=params.lr, betas=(params.beta1, ADAM_BETA2), **adam_implementation(self.device))
        self.optimizer_g = torch.optim.Adam(self.generator.parameters(), **adam)
        self.optimizer_d = torch.optim.Adam(self.discriminator.parameters(), **adam)
        schedule = lr_factor(params)
        self.schedulers = [
            torch.optim.lr_scheduler.LambdaLR(optimizer, schedule) for optimizer in (self.optimizer_g, self.optimizer_d)
        ]

    @property
    def learning_rate(self) -> float:
        return self.schedulers[0].get_last_lr()[0]

    @property
    def published_generator(self) -> Generator:
        """The generator that is validated, kept as the best and written out: the weight average when on."""
        return self.average.model if self.average is not None else self.generator

    @property
    def loss_names(self) -> tuple[str, ...]:
        return self.objective.loss_names

    def _judge(
        self, discriminator: torch.nn.Module, source: torch.Tensor, photo: torch.Tensor, view: AugmentDraw
    ) -> Judgement:
        return discriminator(*augment(source, photo, view))

    def _view(self, source: torch.Tensor) -> AugmentDraw:
        """This batch's augmentation draw for D (none unless `augment_d` names some)."""
        return draw(self.params.augment_d, len(source), source.shape[-1], source.device)

    def training_hints(self, appearance: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """The generator's hints for one batch, each left out (NaN) with probability `hint_dropout`.

        Drawn from torch's global generator, which checkpoints keep, and only for steps that run,
        so a resumed run leaves out the same hints.
        """
        hints = self.generator.config.hints
        if not hints:
            return None
        if appearance is None:
            return torch.full((batch, len(hints), 3), float("nan"), device=self.device)
        chosen = select_hints(appearance, hints).clone()
        chosen[torch.rand(batch, len(hints)) < self.params.hint_dropout] = float("nan")
        return chosen

    def _relit(self, target: torch.Tensor, hints: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The photos and hints the hinted generation is held to: relit when `hint_relight_stops` is on."""
        if self.relighting is None or hints is None:
            return target, hints
        gains = self.relighting.gains(hints)
        return self.relighting.photos(target, gains), self.relighting.hints(hints, gains)

    def train_step(
        self, source: torch.Tensor, target: torch.Tensor, appearance: torch.Tensor | None = None
    ) -> dict[str, float]:
        """One D update then one G update on the same generated batch (as the reference does).

        `appearance`: each photo's measured colours (B, len(HINT_NAMES), 3), for a generator with hints.
        """
        photo = target  # the hint-free pass holds its generation to the photo as it is
        target, hints = self._relit(target, self.training_hints(appearance, len(source)))
        if hints is not None:
            hints = hints.to(self.device, non_blocking=True)
        with autocast(self.device, self.params.precision):
            fake = self.generator_ddp(source, hints)

        self.optimizer_d.zero_grad(set_to_none=True)
        with autocast(self.device, self.params.precision):
            judged_real = self._judge(self.discriminator_ddp, source, target, self._view(source))
            judged_fake = self._judge(self.discriminator_ddp, source, fake.detach(), self._view(source))
        loss_d, logs_d = self.objective.discriminator_loss(judged_real, judged_fake)
        loss_d.backward()
        self.optimizer_d.step()

        # D is fixed during the G update: no gradients for its weights, and no DDP all-reduce for them.
        self.discriminator.requires_grad_(False)
        self.optimizer_g.zero_grad(set_to_none=True)
        view = self._view(source)
        with autocast(self.device, self.params.precision):
            judged = self._judge(self.discriminator, source, fake, view)
            real_features = None
            if self.objective.matches_features:  # the real pair seen the same way, as the target
                with torch.no_grad():
                    real_features = self._judge(self.discriminator, source, target, view)
        loss_g, logs_g = self.objective.generator_loss(judged, fake, target, real_features)
        if self.objective.hint_free_pass:
            logs_g[HINT_FREE] = self._hint_free_loss(source, photo, hints)
            loss_g = loss_g + logs_g[HINT_FREE]
        loss_g.backward()
        self.optimizer_g.step()
        self.discriminator.requires_grad_(True)
        if self.average is not None:
            self.average.update(self.generator)

        logs = {**logs_g, **logs_d}
        return dict(zip(logs, torch.stack([value.detach().float() for value in logs.values()]).tolist(), strict=True))

    def _hint_free_loss(self, source: torch.Tensor, target: torch.Tensor, hints: torch.Tensor) -> torch.Tensor:
        """The batch generated again without any hint; the samples that had one held to their photos.

        The whole batch on every step, so that every rank runs the same forwards (DDP broadcasts
        buffers and SyncBatchNorm reduces statistics in each).
        """
        with autocast(self.device, self.params.precision):
            bare = self.generator_ddp(source, torch.full_like(hints, float("nan")))
        given = (~hints.isnan().any(dim=-1)).any(dim=-1)
        if not given.any():
            return 0.0 * bare.float().sum()  # part of the graph, as DDP expects of a forward's output
        return self.objective.hint_free_loss(bare[given], target[given], float(given.float().mean()))

    def epoch_batches(
        self, data: JitteredPairs, epoch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """This process's (source, target, appearance) batches of one epoch, the images on the training device."""
        batches = data.batches(self.params.batch_size, epoch_generator(self.params.seed, epoch))
        layout = self.memory_formats.generator
        for source, target, appearance in distributed.shard(batches, self.batches_per_epoch(data), self.group):
            yield (
                source.to(self.device, memory_format=layout, non_blocking=True),
                target.to(self.device, memory_format=layout, non_blocking=True),
                appearance,
            )

    def batches_per_epoch(self, data: JitteredPairs) -> int:
        return -(-len(data) // self.params.batch_size)

    def steps_per_epoch(self, data: JitteredPairs) -> int:
        return distributed.steps_per_epoch(self.batches_per_epoch(data), self.group)

    def end_epoch(self) -> None:
        for scheduler in self.schedulers:
            scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "optimizer_g": self.optimizer_g.state_dict(),
            "optimizer_d": self.optimizer_d.state_dict(),
            "schedulers": [scheduler.state_dict() for scheduler in self.schedulers],
            **({"generator_average": self.average.state_dict()} if self.average is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        for optimizer, key in ((self.optimizer_g, "optimizer_g"), (self.optimizer_d, "optimizer_d")):
            optimizer.load_state_dict(state[key])
            match_parameter_layouts(optimizer)
        for scheduler, scheduler_state in zip(self.schedulers, state["schedulers"], strict=True):
            scheduler.load_state_dict(scheduler_state)
        if self.average is not None:
            self.average.load_state_dict(state["generator_average"])
