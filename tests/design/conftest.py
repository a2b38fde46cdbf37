"""A toy generator for design tests: tiny untrained weights with a hand-set last layer, so that
its 16^3 volumes hold all three phases and percolate at some labels and not at others
(campaigns see successful and failed evaluations), in milliseconds."""

import jax
import jax.numpy as jnp
import pytest

from jaxmicro.data.labels import LEGACY_LABEL_NORMALISATION
from jaxmicro.generator import Generator, GeneratorConfig, init_generator, save_generator

TOY_CONFIG = GeneratorConfig(latent_channels=4, channels=(8, 4))
TOY_VOXEL_SIZE_M = 2e-6


def toy_generator() -> Generator:
    params = init_generator(TOY_CONFIG, jax.random.PRNGKey(0))
    last = params["params"]["conv2"]
    # Logits = 3 x (instance-normalised random features) + bias + label terms: hidden features
    # give spatial structure, the label terms make porosity rise with the porosity label and AM
    # with am_wt, so low-porosity, high-am_wt labels do not percolate.
    kernel = 3.0 * last["kernel"].reshape(3, 3, 3, 10, 8, 3)
    kernel = kernel.at[:, :, :, 4:].set(0.0)  # input channels 4..9 are the label channels
    kernel = kernel.at[1, 1, 1, 5, :, 0].add(2.5)  # porosity label -> pore logit
    kernel = kernel.at[1, 1, 1, 4, :, 1].add(1.0)  # am_wt label -> AM logit
    bias = jnp.tile(jnp.array([0.0, 1.0, -3.0], jnp.float32), 8)
    last = {"bias": bias, "kernel": kernel.reshape(3, 3, 3, 10, 24)}
    params = {"params": {**params["params"], "conv2": last}}
    return Generator(
        config=TOY_CONFIG,
        params=params,
        label_ranges=dict(LEGACY_LABEL_NORMALISATION),  # trained range = normalisation: unit cube
        voxel_size_m=TOY_VOXEL_SIZE_M,
        info={"toy": "untrained weights for tests"},
    )


@pytest.fixture(scope="session")
def toy() -> Generator:
    return toy_generator()


@pytest.fixture(scope="session")
def toy_checkpoint(tmp_path_factory, toy):
    return save_generator(toy, tmp_path_factory.mktemp("toy") / "generator")
