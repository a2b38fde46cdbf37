"""Campaign figures: one panel per pair of free variables, and the optimum's path for any number."""

from __future__ import annotations

import math

import matplotlib.figure
import numpy as np
import pytest

from jaxmicro.design import design_space
from jaxmicro.design.objective import Evaluation
from jaxmicro.design.plots import plot_campaign, plot_optimum_path

TRAINED = {"am_wt": (0.90, 0.96), "porosity": (0.28, 0.44), "adhesion": (0.0, 1.0)}


def _evaluation(porosity: float, loading: float, objective: float) -> Evaluation:
    labels = {"am_wt": 0.93, "porosity": porosity, "adhesion": 0.5, "am_loading_mg_cm2": loading}
    failed = not math.isfinite(objective)
    return Evaluation(labels=labels, seeds=(0,), objective=objective, failed=failed,
                      reason="x" if failed else "", properties={}, cell={}, timings_s={})


@pytest.mark.parametrize(
    ("free", "axes"),
    [
        (("porosity",), [("porosity", "Wh/kg")]),
        (("porosity", "am_loading_mg_cm2"), [("porosity", "am_loading_mg_cm2")]),
        (("am_wt", "porosity", "am_loading_mg_cm2"),
         [("am_wt", "porosity"), ("am_wt", "am_loading_mg_cm2"), ("porosity", "am_loading_mg_cm2")]),
    ],
)
def test_campaign_figure_has_a_panel_per_pair_of_free_variables(tmp_path, monkeypatch, free, axes):
    figures = []
    real_savefig = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *a, **k: figures.append(fig) or real_savefig(fig, *a, **k))
    space = design_space(TRAINED, free=free)
    evaluations = [_evaluation(0.30, 15.0, 200.0), _evaluation(0.40, 25.0, 180.0),
                   _evaluation(0.35, 20.0, math.nan)]
    region = np.array([space.point(e.labels) for e in evaluations[:2]])
    out = plot_campaign(evaluations, space, tmp_path / "c.png", "Wh/kg", optimum=evaluations[0],
                        region=region)
    assert out.stat().st_size > 0
    panels = [ax for ax in figures[0].axes if ax.get_xlabel()]  # not the colour bar
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in panels] == axes
    path = plot_optimum_path([200.0, 500.0], evaluations[:2], space, tmp_path / "p.png", "Wh/kg")
    assert path.stat().st_size > 0


def test_slices_have_a_phase_legend_and_a_micrometre_scale_bar(tmp_path, monkeypatch):
    from jaxmicro.generator.plotting import save_slices_png

    figures = []
    real_savefig = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *a, **k: figures.append(fig) or real_savefig(fig, *a, **k))
    volumes = np.random.default_rng(0).integers(0, 3, (1, 64, 64, 64)).astype(np.uint8)
    save_slices_png(tmp_path / "s.png", volumes, ["seed 0"], voxel_size_m=0.75e-6)  # a 48 um box
    (fig,) = figures
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["pore", "AM", "CBD"]
    bars = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert bars == ["10 um"] * 3
