"""Hyperparameters of the conditional SliceGAN, as frozen dataclasses saved as JSON.

:class:`GeneratorConfig` is what is needed to rebuild the generator network (it travels with
the weights); :class:`TrainConfig` holds it plus every training hyperparameter (it is saved
beside each training checkpoint). Both are hashable, so they can be static jit arguments.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Final

_AT_LEAST_ONE: Final[tuple[str, ...]] = (
    "batch_volumes",
    "slices_per_volume",
    "n_critic",
    "steps",
    "checkpoint_every",
    "keep_checkpoints",
    "train_latent_size",
    "anchor_batch",
)
_WHOLE_NUMBERS: Final[tuple[str, ...]] = (*_AT_LEAST_ONE, "slice_size", "png_every", "seed")
_NON_NEGATIVE: Final[tuple[str, ...]] = (
    "gp_weight",
    "vf_weight",
    "stats_weight",
    "lineal_weight",
    "erosion_weight",
    "euler_weight",
    "lattice_weight",
    "anchor_weight",
    "adversarial_weight",
    "tau_weight",
    "aux_temperature",
    "straight_through_temperature",
    "ema_decay",
    "lr_generator",
    "lr_critic",
    "law_lr_scale",
)


DECODINGS: Final[tuple[str, ...]] = ("argmax", "fractions")
"""The ways phase probabilities become phases (:attr:`GeneratorConfig.decoding`)."""


def check_decoding(decoding: str) -> str:
    """``decoding`` if it is one of :data:`DECODINGS`, else a ValueError naming them."""
    if decoding not in DECODINGS:
        raise ValueError(f"decoding must be one of {DECODINGS}, got {decoding!r}")
    return decoding


@dataclasses.dataclass(frozen=True)
class GeneratorConfig:
    """The 3-D generator network.

    The generator maps a latent noise volume ``(lz, ly, lx, latent_channels)`` to phase
    probabilities ``(lz * f, ly * f, lx * f, 3)`` with ``f = upsample_factor``: each stage is
    a sub-pixel convolution (3x3x3, circular padding) that doubles the resolution, so the
    network is a function on a torus and any latent size gives an output of that size.

    Attributes:
        latent_channels: channels of the latent noise volume.
        channels: widths of the hidden stages; there are ``len(channels) + 1`` upsampling
            stages, the last one producing the 3 phase logits.
        label_encoding: ``"pair"``: each unit label ``l`` enters every layer as two constant
            channels ``l`` and ``1 - l``.
        norm: ``"film"``: hidden stages are instance-normalised over the volume and then
            scaled and shifted by a learnt affine function of the labels; ``"none"``.
        noise_injection: add fresh Gaussian noise to every hidden stage's output, one field
            per stage at its resolution, scaled per channel by learnt factors that start at 0
            (StyleGAN's noise inputs; Karras, Laine & Aila 2019, arXiv:1812.04948): local
            randomness at 1/8, 1/4, ... of the latent cell, where particles of the size of a
            latent cell must otherwise be placed by deterministic convolutions of a coarse
            latent. The fields travel in the latent volume as extra channels
            (:attr:`latent_input_channels`), so a seed still fixes a volume.
        residual_blocks: extra residual blocks after each hidden stage, one count per stage
            (missing stages: none): ``x + conv(leaky_relu(conv(x)))`` at the stage's resolution
            and width, both 3x3x3 labelled convolutions, the second starting at zero so a block
            starts as the identity (a trained network gains them without changing its output;
            zero-initialised residual branches: Goyal et al. 2017, arXiv:1706.02677; He et al.
            2016, arXiv:1512.03385). Depth where the particles are placed: each stage is
            otherwise one convolution.
        decoding: how the phase probabilities become phases (the network is the same):
            ``"argmax"``, or ``"fractions"``: each volume at its label's phase volume fractions,
            as the simulator places its phases by rank
            (:func:`~jaxmicro.characterise.soft.decode_at_fractions`). A generator trained with
            straight-through losses on fraction-decoded volumes is decoded that way.
        seeds_per_cell: random seed points per latent voxel (0: none). Each latent voxel
            carries ``seeds_per_cell`` points, uniform in it, and a Gaussian mark each, as
            ``4 * seeds_per_cell`` more latent channels; every stage after the first also sees,
            at its input resolution, the distance to the nearest seed and that seed's mark as
            two more feature channels (:func:`~jaxmicro.generator.model.seed_fields`). A
            structured noise: a marked point pattern with the density of the electrode's
            particles (an NMC particle of 13 voxels' diameter fills about one 16-voxel latent
            cell at AM volume fraction 0.35-0.65), which the convolutions can turn into
            particles instead of placing them from a smooth coarse latent (docs/generator.md).
        particles_per_cell: candidate AM particles per latent voxel (0: none, the AM is the
            network's). With ``k > 0`` the AM is drawn as a union of spheroids: ``k``
            candidates per latent voxel (``5k`` more latent channels), thinned, sized and
            flattened by a learnt function of the labels, relaxed so they touch rather than
            merge (:mod:`~jaxmicro.generator.particles`); every stage after the first sees
            their distance field, and the last places pore and CBD around them. Four
            candidates per 16-voxel latent cell cover the 1-2 particles of 13 voxels'
            diameter an electrode has there.
        cbd_films: with drawn particles, the last stage's CBD logit also falls linearly with
            the gaps to the nearest and second-nearest particle, at a learnt label-dependent
            rate and neck weight (the film-and-neck score of the simulator and of binder
            placement by capillarity); a half-resolution convolution cannot place films one
            voxel thick on its own. It starts at 0, so a trained network computes what it did.
    """

    latent_channels: int = 16
    channels: tuple[int, ...] = (64, 32, 16)
    label_encoding: str = "pair"
    norm: str = "film"
    noise_injection: bool = False
    decoding: str = "argmax"
    residual_blocks: tuple[int, ...] = ()
    seeds_per_cell: int = 0
    particles_per_cell: int = 0
    cbd_films: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        blocks = tuple(self.residual_blocks)
        if len(blocks) > len(self.channels) or any(not isinstance(b, int) or b < 0 for b in blocks):
            raise ValueError(
                f"residual_blocks needs at most one whole count >= 0 per hidden stage "
                f"({len(self.channels)}), got {blocks}"
            )
        while blocks and blocks[-1] == 0:  # one spelling per network: (1, 0, 0) is (1,)
            blocks = blocks[:-1]
        object.__setattr__(self, "residual_blocks", blocks)
        if self.latent_channels < 1 or not self.channels or min(self.channels) < 1:
            raise ValueError(f"GeneratorConfig needs positive widths, got {self}")
        if self.norm not in ("film", "none"):
            raise ValueError(f"norm must be 'film' or 'none', got {self.norm!r}")
        for name in ("noise_injection", "cbd_films"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.cbd_films and not self.particles_per_cell:
            raise ValueError("cbd_films needs drawn particles: set particles_per_cell (e.g. 4)")
        check_decoding(self.decoding)
        for name in ("seeds_per_cell", "particles_per_cell"):
            count = getattr(self, name)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {count!r}")
        if self.label_encoding != "pair":
            raise ValueError(f"label_encoding must be 'pair', got {self.label_encoding!r}")

    @property
    def upsample_factor(self) -> int:
        """Output voxels per latent voxel along each axis."""
        return 2 ** (len(self.channels) + 1)

    def blocks_after(self, stage: int) -> int:
        """Residual blocks after hidden stage ``stage`` (0 where :attr:`residual_blocks` is silent)."""
        return self.residual_blocks[stage] if stage < len(self.residual_blocks) else 0

    @property
    def noise_channels(self) -> tuple[int, ...]:
        """Latent channels carrying each hidden stage's noise field (``8**(stage + 1)``: the
        stage's voxels per latent voxel); empty without :attr:`noise_injection`."""
        return tuple(8 ** (i + 1) for i in range(len(self.channels))) if self.noise_injection else ()

    @property
    def latent_input_channels(self) -> int:
        """Channels of the latent noise volume the network takes: ``latent_channels`` plus the
        noise fields of :attr:`noise_channels`, the seed points of :attr:`seeds_per_cell`
        (3 coordinates and a mark each) and the particle candidates of
        :attr:`particles_per_cell` (3 coordinates, a radius mark and a keep mark each)."""
        return (self.latent_channels + sum(self.noise_channels) + 4 * self.seeds_per_cell
                + 5 * self.particles_per_cell)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of a WGAN-GP SliceGAN training run.

    Attributes:
        generator: the generator network.
        critic_channels: widths of the 2-D critics' stride-2 4x4 convolutions.
        train_latent_size: latent edge during training; the fake volumes have edge
            ``train_latent_size * generator.upsample_factor`` [voxels].
        slice_size: edge of the square 2-D slices the critics judge [voxels].
        batch_volumes: fake volumes per step, each at the labels of a random training sample.
        slices_per_volume: slices per axis per volume that each critic sees per update.
        n_critic: critic updates per generator update.
        gp_weight: weight of the WGAN-GP gradient penalty.
        vf_weight: weight of an auxiliary loss pulling each fake volume's mean phase
            probabilities towards the phase fractions of the training sample whose labels it
            was given (0 disables it).
        stats_weight: weight of an auxiliary loss pulling each fake volume's two-point
            phase-pair probabilities (:func:`jaxmicro.characterise.two_point_statistics`: along
            each axis, at each of ``stats_lags``) towards those of the real slices of its labels:
            the mean squared relative error, relative to ``max(real, 0.01)`` (0 disables it). At
            lag 1 these are the interfacial areas (surface area, CBD coverage) per direction.
        stats_lags: the lags of that loss [voxels], each less than ``slice_size``.
        lineal_weight: weight of an auxiliary loss pulling each fake volume's lineal-path
            functions (:func:`jaxmicro.characterise.lineal_path`: the probability that a segment
            of ``r`` voxels along an axis lies wholly in a phase; Lu & Torquato 1992) towards
            those of the real slices of its labels, as the mean squared error of their logs (0
            disables it). Their decay with ``r`` is the chord-length distribution integrated
            twice (docs/generator.md: what it changed in a 500-step run).
        lineal_lengths: the segment lengths of that loss [voxels], each at most ``slice_size``.
        erosion_weight: weight of an auxiliary loss pulling each fake volume's ball erosion
            (:func:`jaxmicro.characterise.ball_erosion`: the fraction of each phase deeper than
            ``r`` from its boundary, the particle- and pore-size functions) towards that of the
            real 3-D volumes of its labels, as the mean squared error of their logs (0 disables
            it; needs 3-D training volumes). Slices cannot show it. Until 2026-12-04 it saw
            sharpened volumes through a clipped log and so had no gradient towards growing a
            phase: it did not move in 2400 steps (docs/generator.md); the lineal-path and
            erosion losses now see the unsharpened volumes (``aux_temperature`` does not apply).
        erosion_radii: the ball radii of that loss [voxels], ``2 r + 1`` at most the fake volumes' edge.
        euler_weight: weight of an auxiliary loss pulling each fake volume's Euler
            characteristic per voxel of each phase (:func:`jaxmicro.characterise.euler_density`:
            particles + cavities - loops, the topology) towards that of the real 3-D volumes of
            its labels, as the squared error in units of :data:`~jaxmicro.generator.losses.
            EULER_SCALE` (0 disables it; needs 3-D training volumes). The shipped model's CBD
            is islands where the simulator's is a network, and its AM has fewer loops
            (docs/generator.md).
        lattice_weight: weight of an auxiliary loss against a pattern repeated in every latent
            cell: the covariance of different cells at the same 3-D position in the cell
            (:func:`~jaxmicro.generator.losses.lattice_loss`; 0 disables it). A real electrode
            has no preferred positions; a generator drew CBD layers every 16 voxels
            through-plane (stop 41), and the shipped default's CBD repeats a pattern of 8 %
            (up to 12 %) of its variance in every cell (stop 42; until then the loss flattened
            only the profiles along each axis, docs/generator.md).
        anchor_weight: weight of a reconstruction term (0 disables it; needs 3-D training
            volumes): every ``train_edge``-cube of the training volumes gets its own latent
            volume, fitted with the generator, and each step one of them must be drawn back
            voxel for voxel (cross-entropy to its one-hot phases; the latents kept on the sphere
            of typical Gaussian draws). So the generator's range holds the training volumes,
            where adversarial training alone left them out: the shipped GAN's weights
            reach 74 % of a training volume's voxels with the best latent, while the same network
            fitted to reconstruct reaches 99.9 % (generative latent optimisation, Bojanowski et
            al. 2018, arXiv:1707.05776; docs/generator.md, stop 46).
        anchor_batch: how many anchors are drawn back each step (their cross-entropies
            averaged). One per step at weight 10 left the anchors' cross-entropy at about
            ln 3 after 1700 steps (stop 47), where the probe, which draws every volume each
            step, reached 0.02.
        adversarial_weight: weight of the critics' term in the generator's loss; 0 also skips
            the critic updates (the critics stay as they are), so with ``anchor_weight`` a run
            is a reconstruction phase (generative latent optimisation over the training cubes)
            that an adversarial run continues from (``--init-from`` a run folder keeps its
            anchors). The auxiliary losses on the random-latent volumes (``vf_weight`` and the
            others) still apply at their weights.
        tau_weight: weight of an auxiliary loss pulling each fake volume's pore tortuosity
            factor, through-plane and in-plane, towards that of the real volumes of its labels:
            the squared error of ``log tau``, both computed on the pore probability field
            (floored at ``TAU_FLOOR``) with the differentiable solver (0 disables it; needs 3-D
            training volumes).
        aux_temperature: temperature ``T`` of the auxiliary losses (vf, stats, tau, Euler): they see
            ``softmax(log(p) / T)`` of the fake probabilities ``p``; ``T < 1`` sharpens them
            towards the argmax decoding that generated volumes get, so the losses target the
            decoded phases rather than the soft mixture at interfaces (1: no sharpening).
        straight_through_temperature: 0 (the default): the auxiliary losses see the fake
            probabilities, sharpened at ``aux_temperature`` (vf, stats, tau, Euler) or not (lineal
            path, erosion). ``T > 0``: all but the Euler loss see the argmax-decoded (one-hot)
            volumes, the phases a generated volume is used as, with gradients through
            ``softmax(log(p) / T)`` (a straight-through estimator; Bengio, Leonard & Courville
            2013, arXiv:1308.3432). Sharpening at T = 0.2 is not the argmax: a run matched
            its sharpened fractions (vf loss ~1e-4) while its decoded porosity read 0.01-0.03
            high at 5 of 6 held-out labels (docs/generator.md). ``T > 1`` also undoes part of
            the saturated softmax's damping of the gradient that would move a boundary (the
            median largest probability of a trained generator's voxel is 0.9999993). The Euler
            loss keeps the sharpened volumes: through the straight-through gradient it rose
            from 0.01 to 1.8 within 30 steps (T = 3).
        ema_decay: the exported generator is the exponential moving average of the generator
            weights with this decay per step (0: the raw weights); averaging damps the
            step-to-step wandering of GAN generators.
        lr_generator, lr_critic: Adam learning rates.
        law_lr_scale: the drawn particles' law (``GeneratorConfig.particles_per_cell``) learns
            at ``law_lr_scale * lr_generator`` (0: frozen). Its few parameters carry a run-time
            gain that makes them fast at the start and a random walk later (stop 40: the mean
            radius drifted 25 % between steps 1200 and 1700); a fine-tune slows them here
            without changing what exported weights mean.
        adam_b1, adam_b2: Adam moment decays.
        steps: generator updates in the whole run.
        checkpoint_every: save a checkpoint every this many steps.
        keep_checkpoints: keep the most recent this many checkpoints.
        png_every: write a PNG of slices every this many steps (0: never).
        seed: seed of the parameters' initialisation and of every random draw in training.
    """

    generator: GeneratorConfig = GeneratorConfig()
    critic_channels: tuple[int, ...] = (16, 32, 64, 64)
    train_latent_size: int = 4
    slice_size: int = 64
    batch_volumes: int = 2
    slices_per_volume: int = 8
    n_critic: int = 3
    gp_weight: float = 10.0
    vf_weight: float = 10.0
    stats_weight: float = 0.0
    stats_lags: tuple[int, ...] = (1, 2, 4, 8)
    lineal_weight: float = 0.0
    lineal_lengths: tuple[int, ...] = (2, 4, 6, 8, 12, 16, 24)
    erosion_weight: float = 0.0
    erosion_radii: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    euler_weight: float = 0.0
    lattice_weight: float = 0.0
    anchor_weight: float = 0.0
    anchor_batch: int = 1
    adversarial_weight: float = 1.0
    tau_weight: float = 0.0
    aux_temperature: float = 1.0
    straight_through_temperature: float = 0.0
    ema_decay: float = 0.0
    lr_generator: float = 1e-4
    lr_critic: float = 1e-4
    law_lr_scale: float = 1.0
    adam_b1: float = 0.5
    adam_b2: float = 0.9
    steps: int = 2000
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    png_every: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in _WHOLE_NUMBERS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"TrainConfig.{name} must be a whole number, got {value!r}")
        for name in ("critic_channels", "stats_lags", "lineal_lengths", "erosion_radii"):
            values = getattr(self, name)
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(f"TrainConfig.{name} must be positive whole numbers, got {values!r}")
        for name in _NON_NEGATIVE:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"TrainConfig.{name} must be a finite number, got {value!r}")
            if value < 0 or (name.startswith("lr_") and value == 0):
                least = "positive" if name.startswith("lr_") else ">= 0"
                raise ValueError(f"TrainConfig.{name} must be {least}, got {value!r}")
        for name in ("adam_b1", "adam_b2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
                raise ValueError(f"TrainConfig.{name} must be in [0, 1), got {value!r}")
        if self.png_every < 0:
            raise ValueError(f"TrainConfig.png_every must be 0 (no PNGs) or positive, got {self.png_every}")
        if not 0 <= self.seed < 2**32:  # PRNG keys take 32 bits: a larger seed repeats another run
            raise ValueError(f"TrainConfig.seed (--seed) must be in [0, 2**32), got {self.seed}")
        object.__setattr__(self, "critic_channels", tuple(self.critic_channels))
        object.__setattr__(self, "stats_lags", tuple(self.stats_lags))
        object.__setattr__(self, "lineal_lengths", tuple(self.lineal_lengths))
        object.__setattr__(self, "erosion_radii", tuple(self.erosion_radii))
        if not self.stats_lags or not all(1 <= lag < self.slice_size for lag in self.stats_lags):
            raise ValueError(f"stats_lags must be lags in [1, slice_size), got {self.stats_lags}")
        if not self.lineal_lengths or max(self.lineal_lengths) > self.slice_size:
            raise ValueError(f"lineal_lengths must be lengths in [1, slice_size], got {self.lineal_lengths}")
        if not 0.0 < self.aux_temperature <= 1.0:
            raise ValueError(f"aux_temperature must be in (0, 1], got {self.aux_temperature}")
        if self.law_lr_scale != 1.0 and not self.generator.particles_per_cell:
            raise ValueError("law_lr_scale (--law-lr-scale) needs drawn particles: set particles_per_cell")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not self.erosion_radii or 2 * max(self.erosion_radii) + 1 > self.train_edge:
            raise ValueError(
                f"erosion_radii must be radii r with 2 r + 1 <= {self.train_edge} (the training volumes' "
                f"edge), got {self.erosion_radii}"
            )
        if self.train_edge < self.slice_size:
            raise ValueError(
                f"training volumes of edge {self.train_edge} are smaller than slice_size "
                f"{self.slice_size}; raise train_latent_size or lower slice_size"
            )
        if self.slice_size % 2 ** len(self.critic_channels):
            raise ValueError(f"slice_size {self.slice_size} must be divisible by 2**len(critic_channels)")
        for name in _AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be at least 1, got {getattr(self, name)}")

    @property
    def train_edge(self) -> int:
        """Edge of the fake training volumes [voxels]."""
        return self.train_latent_size * self.generator.upsample_factor

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        try:
            generator = GeneratorConfig(**data.pop("generator"))
            return cls(generator=generator, **data)
        except (KeyError, TypeError) as error:
            raise ValueError(
                f"not a jaxmicro TrainConfig ({error}); was it written by another version?"
            ) from None


# Named presets for `jaxmicro train --config NAME`.
PRESETS: Final[dict[str, TrainConfig]] = {
    # A few seconds per step on one CPU core: the shipped default checkpoint.
    "small": TrainConfig(),
    # For a GPU: wider networks, bigger batches, longer.
    "default": TrainConfig(
        generator=GeneratorConfig(latent_channels=32, channels=(256, 128, 64)),
        critic_channels=(64, 128, 256, 512),
        batch_volumes=8,
        slices_per_volume=16,
        steps=20000,
        checkpoint_every=500,
    ),
    # Unit tests: 16^3 volumes from a 2^3 latent.
    "tiny": TrainConfig(
        generator=GeneratorConfig(latent_channels=4, channels=(8, 4)),
        critic_channels=(8, 8),
        train_latent_size=2,
        slice_size=16,
        batch_volumes=2,
        slices_per_volume=2,
        n_critic=2,
        stats_weight=1.0,
        stats_lags=(1, 4),
        lineal_weight=1.0,
        lineal_lengths=(2, 8),
        erosion_weight=1.0,
        erosion_radii=(1, 3),
        euler_weight=1.0,
        aux_temperature=0.5,
        ema_decay=0.5,
        steps=4,
        checkpoint_every=2,
    ),
}


def preset(name: str) -> TrainConfig:
    """Returns the named :data:`PRESETS` entry; raises ValueError naming the choices."""
    if name not in PRESETS:
        raise ValueError(f"unknown config {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]


def latent_shape_for(config: GeneratorConfig, shape: Sequence[int], periodic: bool) -> tuple[int, int, int]:
    """Latent size giving an output of ``shape``: ``shape / f``, plus one when not periodic."""
    shape = tuple(int(n) for n in shape)
    f = config.upsample_factor
    if len(shape) != 3 or any(n < f or n % f for n in shape):
        raise ValueError(
            f"shape {shape} must be 3 positive multiples of {f} (the generator's upsampling factor), "
            f"e.g. {(4 * f,) * 3}"
        )
    return tuple(n // f + (0 if periodic else 1) for n in shape)
