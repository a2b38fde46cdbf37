"""Design spaces: free labels, fixed labels, bounds inside the generator's trained range."""

import numpy as np
import pytest

from jaxmicro.design import DesignSpace, design_space

TRAINED = {"am_wt": (0.90, 0.96), "porosity": (0.28, 0.44), "adhesion": (0.0, 1.0)}


def test_default_space_optimises_am_wt_and_porosity_with_adhesion_fixed_mid_range():
    space = design_space(TRAINED)
    assert space.free == ("am_wt", "porosity")
    assert space.bounds == ((0.90, 0.96), (0.28, 0.44))
    assert space.fixed == {"adhesion": 0.5}


def test_full_labels_fill_fixed_values_in_label_order_and_round_trip():
    space = design_space(TRAINED, free=("porosity", "adhesion"), fixed={"am_wt": 0.93})
    assert space.free == ("porosity", "adhesion")  # label order, not argument order
    x = np.array([[0.30, 0.1], [0.40, 0.9]])
    labels = space.full_labels(x)
    np.testing.assert_allclose(labels, [[0.93, 0.30, 0.1], [0.93, 0.40, 0.9]])
    np.testing.assert_allclose(space.free_values(labels), x)
    assert DesignSpace.from_dict(space.to_dict()) == space


def test_narrower_bounds_are_kept():
    space = design_space(TRAINED, bounds={"porosity": (0.30, 0.40)})
    assert space.bounds[1] == (0.30, 0.40)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"free": ("am_wt", "thickness")}, "unknown label 'thickness'"),
        ({"fixed": {"adhesion": 1.5}}, "outside the generator's trained range"),
        ({"free": ("am_wt",), "fixed": {"am_wt": 0.92}}, "both optimised and fixed"),
        ({"bounds": {"porosity": (0.20, 0.40)}}, "leave the generator's trained range"),
        ({"free": ()}, "at least one free label"),
    ],
)
def test_bad_spaces_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        design_space(TRAINED, **kwargs)
