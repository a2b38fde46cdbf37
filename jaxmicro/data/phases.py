"""Phase and axis conventions used everywhere in jaxmicro.

A microstructure is a 3-phase voxel volume of integer phase ids with shape ``(z, y, x)``:

* ``PORE = 0``: pore space, filled with electrolyte.
* ``AM = 1``: active material (NMC particles).
* ``CBD = 2``: carbon-binder domain (conductive carbon + PVDF binder, itself nano-porous).

Axis 0 (``z``) is the through-plane direction: the electrode thickness, the direction of
calendering and of ionic transport from separator to current collector. Axes 1 and 2 are
in-plane. Every function that takes a transport axis defaults to ``THROUGH_PLANE_AXIS``.
"""

from __future__ import annotations

from typing import Final

PORE: Final[int] = 0
AM: Final[int] = 1
CBD: Final[int] = 2

PHASES: Final[tuple[int, int, int]] = (PORE, AM, CBD)
PHASE_NAMES: Final[dict[int, str]] = {PORE: "pore", AM: "AM", CBD: "CBD"}
N_PHASES: Final[int] = 3

THROUGH_PLANE_AXIS: Final[int] = 0
IN_PLANE_AXES: Final[tuple[int, int]] = (1, 2)

# Solid densities [g/cm^3]; NMC811 about 4.7-4.8, CBD (carbon black + PVDF, solid part) about 1.8.
AM_DENSITY_G_CM3: Final[float] = 4.7
CBD_DENSITY_G_CM3: Final[float] = 1.8
