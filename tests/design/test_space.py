"""Design spaces: free labels, fixed labels, bounds inside the generator's trained range."""

import numpy as np
import pytest

from jaxmicro.design import DesignSpace, design_space, label_grid
from jaxmicro.design.space import CELL_VARIABLE_BOUNDS

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
    points = [space.point(dict(zip(("am_wt", "porosity", "adhesion"), row, strict=True))) for row in labels]
    np.testing.assert_allclose(points, x)
    assert space.cell_variable is None and space.cell_variables(x) is None
    assert DesignSpace.from_dict(space.to_dict()) == space


def test_narrower_bounds_are_kept():
    space = design_space(TRAINED, bounds={"porosity": (0.30, 0.40)})
    assert space.bounds[1] == (0.30, 0.40)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"free": ("am_wt", "thickness")}, "unknown design variable 'thickness'"),
        ({"free": ("am_loading_mg_cm2", "cathode_thickness_um")}, "at most one cell variable"),
        ({"fixed": {"am_loading_mg_cm2": 20.0}}, "cannot fix 'am_loading_mg_cm2'.*DesignSettings"),
        ({"free": ("am_loading_mg_cm2",), "bounds": {"am_loading_mg_cm2": (0.0, 30.0)}}, "positive"),
        ({"fixed": {"adhesion": 1.5}}, "outside the generator's trained range"),
        ({"free": ("am_wt",), "fixed": {"am_wt": 0.92}}, "both optimised and fixed"),
        ({"bounds": {"porosity": (0.20, 0.40)}}, "leave the generator's trained range"),
        ({"free": ()}, "at least one free variable"),
    ],
)
def test_bad_spaces_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        design_space(TRAINED, **kwargs)


def test_a_cell_variable_is_optimised_beside_the_labels_and_comes_back_per_point():
    space = design_space(TRAINED, free=("am_loading_mg_cm2", "porosity"))
    assert space.free == ("porosity", "am_loading_mg_cm2")  # labels first, then the cell variable
    assert space.bounds == ((0.28, 0.44), CELL_VARIABLE_BOUNDS["am_loading_mg_cm2"])
    assert space.cell_variable == "am_loading_mg_cm2"
    x = np.array([[0.30, 15.0], [0.40, 30.0]])
    np.testing.assert_allclose(space.full_labels(x), [[0.93, 0.30, 0.5], [0.93, 0.40, 0.5]])
    assert space.cell_variables(x) == [{"am_loading_mg_cm2": 15.0}, {"am_loading_mg_cm2": 30.0}]
    np.testing.assert_allclose(space.point({"am_wt": 0.93, "porosity": 0.40, "adhesion": 0.5,
                                            "am_loading_mg_cm2": 30.0}), x[1])
    assert DesignSpace.from_dict(space.to_dict()) == space
    narrow = design_space(TRAINED, free=("cathode_thickness_um",), bounds={"cathode_thickness_um": (60, 90)})
    assert narrow.bounds == ((60.0, 90.0),)
    assert narrow.fixed == pytest.approx({"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5})


def test_a_label_grid_refuses_a_cell_variable():
    space = design_space(TRAINED, free=("porosity", "am_loading_mg_cm2"))
    with pytest.raises(ValueError, match="cannot vary am_loading_mg_cm2"):
        label_grid(space, 3)
