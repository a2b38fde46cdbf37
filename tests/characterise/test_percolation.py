"""The inlet cluster: host labelling (cc3d) and the jittable JAX flood fill agree."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise.percolation import (
    inlet_cluster,
    inlet_cluster_numpy,
    inlet_clusters,
    inlet_clusters_numpy,
)
from jaxmicro.characterise.synthetic import gaussian_random_medium


@pytest.mark.parametrize("periodic", [False, True])
@pytest.mark.parametrize("porosity", [0.25, 0.4])
def test_host_labelling_equals_the_flood_fill(periodic, porosity):
    mask = gaussian_random_medium((20, 18, 16), porosity, seed=5) == 0
    mask.flags.writeable = False  # e.g. np.asarray of a JAX array; cc3d needs a writable copy
    cluster, percolates = inlet_cluster_numpy(mask, periodic=periodic)
    for sequential_scan in (True, False):  # CPU's lax.scan and accelerators' associative_scan
        jax_cluster, jax_percolates = inlet_cluster(
            jnp.asarray(mask), periodic=periodic, sequential_scan=sequential_scan
        )
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


@pytest.mark.parametrize("periodic", [False, True])
def test_batched_labelling_agrees_by_every_method_inside_jit_and_vmap(periodic):
    """``inlet_clusters``: the host callback (CPU's "auto") and the flood fill, jitted and under
    an extra vmap, equal the NumPy labelling, percolating or not."""
    masks = np.stack([gaussian_random_medium((14, 12, 10), p, seed=s) == 0 for p, s in ((0.45, 2), (0.1, 3))])
    expected, expected_percolates = inlet_clusters_numpy(masks, periodic=periodic)
    assert expected_percolates.tolist() == [True, False]
    for method in ("auto", "host", "flood_fill"):
        run = jax.jit(lambda m, method=method: inlet_clusters(m, periodic=periodic, method=method))
        clusters, percolates = run(jnp.asarray(masks))
        np.testing.assert_array_equal(np.asarray(clusters), expected)
        np.testing.assert_array_equal(np.asarray(percolates), expected_percolates)
        nested, _ = jax.vmap(run)(jnp.asarray(masks[:, None]))
        np.testing.assert_array_equal(np.asarray(nested[:, 0]), expected)
    with pytest.raises(ValueError, match="method must be"):
        inlet_clusters(jnp.asarray(masks), method="scipy")
