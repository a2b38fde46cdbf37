"""The inlet cluster: host labelling (cc3d) and the jittable JAX flood fill agree."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise.percolation import inlet_cluster, inlet_cluster_numpy
from jaxmicro.characterise.synthetic import gaussian_random_medium


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("porosity", [0.25, 0.4])
def test_host_labelling_equals_the_flood_fill(periodic, porosity):
    mask = gaussian_random_medium((20, 18, 16), porosity, seed=5) == 0
    mask.flags.writeable = False  # e.g. np.asarray of a JAX array; cc3d needs a writable copy
    cluster, percolates = inlet_cluster_numpy(mask, periodic=periodic)
    jax_cluster, jax_percolates = inlet_cluster(jnp.asarray(mask), periodic=periodic)
    np.testing.assert_array_equal(cluster, np.asarray(jax_cluster))
    assert percolates == bool(jax_percolates)
    assert cluster[0].sum() == mask[0].sum()  # every inlet voxel is in it
    assert not (cluster & ~mask).any()


def test_a_pocket_joined_only_across_the_periodic_face_counts_when_periodic():
    mask = np.zeros((6, 5, 5), bool)
    mask[:, 0, 2] = True  # a channel through the sample
    mask[3, 4, 2] = True  # touches the channel only across the periodic face normal to axis 1
    closed, _ = inlet_cluster_numpy(mask)
    wrapped, percolates = inlet_cluster_numpy(mask, periodic=True)
    assert percolates and wrapped[3, 4, 2] and not closed[3, 4, 2]
