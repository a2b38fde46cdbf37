"""The generators jaxmicro ships, by name, and which one is the default.

``checkpoints/<name>/`` at the top of a checkout is the source of truth; a wheel build copies
each into ``jaxmicro/checkpoints/<name>/`` (``setup.py``), where an installed jaxmicro finds it.

- ``"stochastic"`` (the default since 2026-12-07): the fitted stochastic-geometry generator
  (:class:`~jaxmicro.generator.stochastic.GeometryModel`, ``geometry.json``, 2 kB). At issue 26's
  check (128^3, 3 references, held-out and off-grid labels) it meets what the simulator that
  made the training data meets (scalar mean 1.7 % and 1.3 %, all 18 morphology distances within
  2x the control's), where the GAN reads 7.0 % and meets none of the goals
  (docs/generator.md "Stop 54"). Drawn on the host: no gradient with respect to the labels.
- ``"gan"`` (the default until 2026-12-07): the conditional SliceGAN
  (:class:`~jaxmicro.generator.checkpoint.Generator`, ``generator.json`` + ``params/``, 3.4 MB),
  traceable: generated inside ``jit``, sharded, differentiated through (the chain-rule design
  gradient, soft measurement) and benchmarked on accelerators.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from jaxmicro.generator.checkpoint import GENERATOR_JSON, load_generator
from jaxmicro.generator.protocol import VolumeGenerator
from jaxmicro.generator.stochastic import GEOMETRY_FILE, load_geometry_model

#: Shipped generator name -> the file that marks its folder.
SHIPPED_GENERATORS: Final[dict[str, str]] = {"stochastic": GEOMETRY_FILE, "gan": GENERATOR_JSON}
DEFAULT_GENERATOR: Final[str] = "stochastic"


def _checked_name(name: str) -> str:
    if name not in SHIPPED_GENERATORS:
        raise ValueError(f"no shipped generator named {name!r}; choose one of {sorted(SHIPPED_GENERATORS)}")
    return name


def shipped_checkpoint_path(name: str = DEFAULT_GENERATOR) -> Path:
    """A shipped generator's folder: ``jaxmicro/checkpoints/<name>`` in an installed wheel, else
    ``<repo>/checkpoints/<name>`` (a source checkout or an editable install).

    Args:
        name: one of :data:`SHIPPED_GENERATORS`.
    """
    import jaxmicro

    marker = SHIPPED_GENERATORS[_checked_name(name)]
    package = Path(jaxmicro.__file__).resolve().parent
    installed = package / "checkpoints" / name
    return installed if (installed / marker).is_file() else package.parent / "checkpoints" / name


def load_shipped_generator(name: str = DEFAULT_GENERATOR) -> VolumeGenerator:
    """Loads a shipped generator, with a one-line error when it is absent.

    Args:
        name: ``"stochastic"`` (a :class:`~jaxmicro.generator.stochastic.GeometryModel`, the
            default) or ``"gan"`` (a traceable :class:`~jaxmicro.generator.checkpoint.Generator`).
    """
    path = shipped_checkpoint_path(name)
    if not (path / SHIPPED_GENERATORS[name]).is_file():
        raise FileNotFoundError(
            f"the shipped {name!r} generator is missing at {path}; it ships in the jaxmicro git "
            f"repository (checkpoints/{name}) and its wheel, or pass --checkpoint PATH"
        )
    return load_geometry_model(path) if SHIPPED_GENERATORS[name] == GEOMETRY_FILE else load_generator(path)


def load_default_generator() -> VolumeGenerator:
    """The default generator (:data:`DEFAULT_GENERATOR`), the one ``jaxmicro design`` runs on."""
    return load_shipped_generator(DEFAULT_GENERATOR)


__all__ = [
    "DEFAULT_GENERATOR",
    "SHIPPED_GENERATORS",
    "load_default_generator",
    "load_shipped_generator",
    "shipped_checkpoint_path",
]
