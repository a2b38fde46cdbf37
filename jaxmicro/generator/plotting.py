"""PNG figures of generated slices (matplotlib, Agg backend; an edge of the package)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import jax
import numpy as np

from jaxmicro.data.labels import denormalise_labels, label_tag
from jaxmicro.data.phases import PHASE_NAMES
from jaxmicro.generator.config import TrainConfig
from jaxmicro.generator.model import Params, generator_apply
from jaxmicro.generator.slices import SliceBank

_COLOURS = np.array([[0.05, 0.05, 0.05], [0.75, 0.75, 0.75], [0.85, 0.35, 0.1]])


def _scale_bar(ax, pixels: int, voxel_size_m: float) -> None:
    """A white micrometre scale bar, at most 2/7 of the image wide, in its lower left corner."""
    width_um = pixels * voxel_size_m * 1e6
    lengths_um = (1000, 500, 200, 100, 50, 20, 10, 5, 2, 1, 0.5)
    bar_um = next((b for b in lengths_um if b <= width_um / 3.5), lengths_um[-1])
    bar_px = bar_um / (voxel_size_m * 1e6)
    y = pixels * 0.93
    ax.plot([pixels * 0.05, pixels * 0.05 + bar_px], [y, y], color="white", lw=2.5, solid_capstyle="butt")
    ax.text(pixels * 0.05, y - pixels * 0.04, f"{bar_um:g} um", color="white", fontsize=6, va="bottom")


def _phase_legend(fig) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=_COLOURS[p], label=PHASE_NAMES[p]) for p in PHASE_NAMES]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7, frameon=False)


def save_slices_png(
    path: str | Path,
    volumes: np.ndarray,
    titles: list[str],
    real: np.ndarray | None = None,
    voxel_size_m: float | None = None,
) -> Path:
    """Writes a grid of the middle slices normal to z, y and x of ``volumes`` ``(n, z, y, x)``
    (phase ids), one row per volume, plus rows of ``real`` volumes if given, with a phase
    legend and, given ``voxel_size_m`` [m], a micrometre scale bar on each slice."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(v, t) for v, t in zip(volumes, titles, strict=True)]
    if real is not None:
        rows += [(v, "real " + t) for v, t in zip(real, titles, strict=True)]
    fig, axes = plt.subplots(len(rows), 3, figsize=(6, 2 * len(rows) + 0.3), squeeze=False)
    for (volume, title), row in zip(rows, axes, strict=True):
        mids = [s // 2 for s in volume.shape]
        for axis, ax in enumerate(row):
            image = np.take(volume, mids[axis], axis=axis)
            ax.imshow(_COLOURS[image], interpolation="nearest")
            if voxel_size_m is not None:
                _scale_bar(ax, image.shape[1], voxel_size_m)
            ax.set_axis_off()
            ax.set_title(f"{title}, slice normal to {'zyx'[axis]}", fontsize=6)
    _phase_legend(fig)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_validation_montage(path: str | Path, report) -> Path:
    """Writes middle slices of generated vs reference volumes, one row per held-out label.

    Args:
        path: the PNG to write.
        report: a :class:`jaxmicro.generator.validate.ValidationReport` with ``slices``.

    Returns:
        The path written. Columns: the first generated volume's slices normal to z (through-plane
        axis), y and x, then the first reference volume's; colours: pore black, AM grey, CBD orange.

    Raises:
        ValueError: a report without slices.
    """
    if report.slices is None:
        raise ValueError("the report has no slices; make it with validate_generator")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n_labels = len(report.labels)
    fig, axes = plt.subplots(n_labels, 6, figsize=(12, 2.1 * n_labels + 0.4), squeeze=False)
    for row, label in enumerate(report.labels):
        tag = label_tag(label)
        for source, name in enumerate(("generated", "reference")):
            for axis in range(3):
                ax = axes[row, 3 * source + axis]
                ax.imshow(_COLOURS[report.slices[axis][row, source]], interpolation="nearest")
                ax.set_axis_off()
                ax.set_title(f"{name} {tag} |{'zyx'[axis]}", fontsize=6)
    _phase_legend(fig)
    fig.suptitle(
        f"am_wt, porosity, adhesion; middle slices of {'x'.join(map(str, report.shape))} volumes "
        "(z through-plane)",
        fontsize=8,
    )
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_training_png(
    path: str | Path,
    g_params: Params,
    config: TrainConfig,
    bank: SliceBank,
    label_normalisation: Mapping[str, tuple[float, float]],
) -> Path:
    """Generated slices at three training labels (fixed noise) above the real ones (titles: the
    physical labels, ``bank``'s unit labels mapped back with ``label_normalisation``)."""
    index = np.linspace(0, bank.labels_unit.shape[0] - 1, 3).round().astype(int)
    labels = bank.labels_unit[index]
    z = jax.random.normal(
        jax.random.PRNGKey(0), (3, *(config.train_latent_size,) * 3, config.generator.latent_input_channels)
    )
    volumes = np.asarray(generator_apply(g_params, config.generator, z, labels).argmax(-1))
    real = np.asarray(bank.images[0][index])  # (3, z, y, x) for 3-D training data
    physical = denormalise_labels(np.asarray(labels), label_normalisation)
    titles = [label_tag(row) for row in physical]
    return save_slices_png(path, volumes, titles, real if real.shape[1:] == volumes.shape[1:] else None)
