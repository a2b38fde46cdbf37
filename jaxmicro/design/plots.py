"""Campaign figures (matplotlib, Agg backend; an edge of the package).

* :func:`plot_campaign`: the evaluated labels coloured by the objective, failures marked, the
  optimum circled and the labels not distinguishable from it shaded (one panel per pair of
  free variables).
* :func:`plot_optimum_path`: where the optimum sits in label space at each power (the paper's
  Figure 1 final panel), and the optimum objective against power.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxmicro._files import atomic_path
from jaxmicro.design.objective import Evaluation
from jaxmicro.design.space import DesignSpace


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    """Saves and closes ``fig``; written to a temporary file and renamed, so a kill or a full
    disk never leaves half a figure (the old one stays)."""
    path = Path(path)
    try:
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    finally:
        _pyplot().close(fig)
    return path


def _set_limits(ax, bounds: tuple[tuple[float, float], ...]) -> None:
    """Axis limits of the design box (two dimensions' bounds), with a margin so points on its
    edges stay visible."""
    (x0, x1), (y0, y1) = bounds[:2]
    ax.set_xlim(x0 - 0.04 * (x1 - x0), x1 + 0.04 * (x1 - x0))
    ax.set_ylim(y0 - 0.04 * (y1 - y0), y1 + 0.04 * (y1 - y0))
    ax.add_patch(_pyplot().Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ls="--", lw=0.6, color="0.5"))


def _free(evaluations: Sequence[Evaluation], space: DesignSpace) -> np.ndarray:
    return np.array([[e.labels[name] for name in space.free] for e in evaluations]).reshape(-1, space.dim)


def plot_campaign(
    evaluations: Sequence[Evaluation],
    space: DesignSpace,
    path: str | Path,
    objective_label: str,
    title: str = "",
    *,
    optimum: Evaluation | None = None,
    region: np.ndarray | None = None,
) -> Path:
    """Scatter of the evaluated free variables, coloured by the objective: one panel per pair
    of free variables (one panel with two, three with three).

    With one free variable the objective is plotted against it instead. Failed evaluations are
    grey crosses; the optimum (``optimum``, else the highest objective) is circled in red;
    ``region`` (points in the free variables, shape ``(m, dim)``), the points not
    distinguishable from it, is shaded.
    """
    plt = _pyplot()
    x = _free(evaluations, space)
    y = np.array([e.objective for e in evaluations], dtype=float)
    ok = np.isfinite(y)
    best = x[ok][np.argmax(y[ok])] if ok.any() else None
    if optimum is not None:
        best = _free([optimum], space)[0]
    if space.dim == 1:
        fig, ax = plt.subplots(figsize=(5, 4))
        for u in region[:, 0] if region is not None else ():
            ax.axvline(u, color="tab:orange", alpha=0.08, lw=2)
        ax.plot(x[ok, 0], y[ok], "o", color="tab:blue")
        if not ok.all():
            floor = np.full((~ok).sum(), np.nanmin(y) if ok.any() else 0.0)
            ax.plot(x[~ok, 0], floor, "x", color="0.6", label="failed (at the lowest value)")
        if best is not None:
            value = optimum.objective if optimum is not None else y[ok].max()
            ax.plot(best[0], value, "o", ms=16, mfc="none", mec="red", mew=2, label="optimum")
        ax.set_xlabel(space.free[0])
        ax.set_ylabel(objective_label)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="best")
        return _save(fig, path)
    pairs = list(itertools.combinations(range(space.dim), 2))
    fig, axes = plt.subplots(1, len(pairs), figsize=(5 * len(pairs), 4), squeeze=False)
    for k, ((i, j), ax) in enumerate(zip(pairs, axes[0], strict=True)):
        if region is not None and len(region):
            ax.scatter(region[:, i], region[:, j], s=6, color="tab:orange", alpha=0.35, lw=0,
                       label="not distinguishable from the optimum")
        points = ax.scatter(x[ok, i], x[ok, j], c=y[ok], cmap="viridis", s=40, edgecolors="k", linewidths=0.3)
        if not ok.all():
            ax.plot(x[~ok, i], x[~ok, j], "x", color="0.6", label="failed")
        if best is not None:
            ax.plot(best[i], best[j], "o", ms=16, mfc="none", mec="red", mew=2, label="optimum")
        _set_limits(ax, (space.bounds[i], space.bounds[j]))
        ax.set_xlabel(space.free[i])
        ax.set_ylabel(space.free[j])
        if k == 0:
            ax.set_title(title, fontsize=9)
            ax.legend(fontsize=7, loc="best")
    if ok.any():
        fig.colorbar(points, ax=axes[0, -1], label=objective_label)
    return _save(fig, path)


def plot_optimum_path(
    powers_w_per_kg: Sequence[float],
    bests: Sequence[Evaluation | None],
    space: DesignSpace,
    path: str | Path,
    objective_label: str,
) -> Path:
    """The optimum's path through label space across powers, and its objective vs power."""
    plt = _pyplot()
    found = [(p, b) for p, b in zip(powers_w_per_kg, bests, strict=True) if b is not None]
    fig, (ax_path, ax_value) = plt.subplots(1, 2, figsize=(9, 4))
    if found:
        powers = np.array([p for p, _ in found])
        x = _free([b for _, b in found], space)
        values = np.array([b.objective for _, b in found])
        if space.dim == 1:
            ax_path.plot(powers, x[:, 0], "o-")
            ax_path.set_xlabel("cell-level power [W/kg]")
            ax_path.set_ylabel(space.free[0])
        elif space.dim > 2:  # each free variable against power, as a fraction of its range
            for k, (name, (low, high)) in enumerate(zip(space.free, space.bounds, strict=True)):
                ax_path.plot(powers, (x[:, k] - low) / (high - low), "o-", color=f"C{k}",
                             label=f"{name} ({low:g} to {high:g})")
            ax_path.set_ylim(-0.05, 1.05)
            ax_path.set_xlabel("cell-level power [W/kg]")
            ax_path.set_ylabel("position in its range (0: lower bound, 1: upper)")
            ax_path.legend(fontsize=7, loc="best")
        else:
            ax_path.plot(x[:, 0], x[:, 1], "-", color="0.5", zorder=1)
            points = ax_path.scatter(x[:, 0], x[:, 1], c=powers, cmap="plasma", s=60, zorder=2)
            fig.colorbar(points, ax=ax_path, label="cell-level power [W/kg]")
            for power, (u, v) in zip(powers, x[:, :2], strict=True):
                ax_path.annotate(f"{power:g}", (u, v), textcoords="offset points", xytext=(5, 5), fontsize=7)
            _set_limits(ax_path, space.bounds)
            ax_path.set_xlabel(space.free[0])
            ax_path.set_ylabel(space.free[1])
        ax_value.plot(powers, values, "o-")
    ax_path.set_title("optimum across powers", fontsize=9)
    ax_value.set_xlabel("cell-level power [W/kg]")
    ax_value.set_ylabel(objective_label)
    ax_value.set_title("optimum objective", fontsize=9)
    return _save(fig, path)
