"""Generated and simulated volumes at a dataset's held-out labels: the shared part of the
comparison scripts in experiments/ (autocovariance.py, cbd_placement.py, lattice_profile.py)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator

import numpy as np

from jaxmicro.data import dataset_simulator, load_dataset
from jaxmicro.data.simulator import simulate
from jaxmicro.generator import Generator, generate, load_generator


def add_arguments(parser: argparse.ArgumentParser, volumes: int = 3) -> None:
    """The generators, dataset, volume count and size arguments."""
    parser.add_argument("checkpoints", nargs="+", help="exported generator folders")
    parser.add_argument("--data", default="data/wide64", help="dataset whose held-out labels to use")
    parser.add_argument(
        "--volumes", type=int, default=volumes, help="volumes per label and source [%(default)s]"
    )
    parser.add_argument("--size", type=int, default=64, help="volume edge [voxels]")


def load_generators(args: argparse.Namespace) -> dict[str, Generator]:
    """``args.checkpoints`` loaded, by path."""
    return {path: load_generator(path) for path in args.checkpoints}


def heldout_volumes(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    generators: dict[str, Generator],
    first_seed: int = 2000,
) -> Iterator[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
    """Per held-out label of ``args.data``: the label, ``args.volumes`` simulator volumes (seeds
    ``first_seed, first_seed + 1, ..``) and as many volumes of each of ``generators`` (seeds
    ``0, 1, ..``, by path), each ``(n, size, size, size)`` phase ids. A dataset the simulator
    did not make is a one-line ``parser.error``."""
    dataset = load_dataset(args.data)
    simulator = dataset_simulator(dataset)
    if simulator is None:
        parser.error(f"{args.data} was not made by jaxmicro's simulator: no references to compare with")
    shape = (args.size,) * 3
    config = dataclasses.replace(simulator[0], shape=shape)
    seeds = list(range(args.volumes))
    for label in dataset.label_array("heldout"):
        simulated = np.stack([simulate(label, config, seed=first_seed + s) for s in seeds])
        generated = {
            path: generate(generator, label[None], shape=shape, seed=seeds).volume
            for path, generator in generators.items()
        }
        yield label, simulated, generated
