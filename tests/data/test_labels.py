import numpy as np
import pytest

from jaxmicro.data import (
    LABEL_FIELDS,
    LABEL_RANGES,
    Labels,
    denormalise_labels,
    normalise_labels,
    validate_labels,
)


def test_labels_hold_floats_and_round_trip_through_array_and_dict():
    labels = Labels(0.93, 0.36, 0.5)
    assert labels.to_dict() == {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5}
    assert Labels.from_array(labels.to_array()) == labels
    assert Labels.from_dict(labels.to_dict()) == labels


@pytest.mark.parametrize(
    ("field", "value"),
    [("am_wt", 0.85), ("am_wt", 0.97), ("porosity", 0.2), ("porosity", 0.5),
     ("adhesion", -0.1), ("adhesion", 1.5), ("porosity", float("nan")), ("am_wt", float("inf"))],
)
def test_out_of_range_or_nan_label_names_field_and_range(field, value):
    values = {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5, field: value}
    low, high = LABEL_RANGES[field]
    with pytest.raises(ValueError, match=rf"{field}=.*\[{low}, {high}\]"):
        Labels(**values)


def test_range_edges_are_allowed():
    Labels(0.90, 0.25, 0.0)
    Labels(0.96, 0.45, 1.0)


def test_batch_validation_reports_bad_row_and_rejects_wrong_shape():
    batch = np.array([[0.93, 0.36, 0.5], [0.93, 0.60, 0.5]])
    with pytest.raises(ValueError, match="porosity=0.6"):
        validate_labels(batch)
    with pytest.raises(ValueError, match="shape"):
        validate_labels(np.zeros((2, 4)))


def test_from_dict_rejects_missing_and_unknown_fields():
    with pytest.raises(ValueError, match="missing \\['adhesion'\\]"):
        Labels.from_dict({"am_wt": 0.93, "porosity": 0.36})
    with pytest.raises(ValueError, match="unknown \\['binder'\\]"):
        Labels.from_dict({"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5, "binder": 1})


def test_normalisation_maps_ranges_to_unit_cube_and_back():
    low = np.array([LABEL_RANGES[f][0] for f in LABEL_FIELDS])
    high = np.array([LABEL_RANGES[f][1] for f in LABEL_FIELDS])
    np.testing.assert_allclose(normalise_labels(low), 0.0, atol=1e-12)
    np.testing.assert_allclose(normalise_labels(high), 1.0, atol=1e-12)
    rng = np.random.default_rng(0)
    labels = low + rng.random((10, 3)) * (high - low)
    np.testing.assert_allclose(denormalise_labels(normalise_labels(labels)), labels, atol=1e-12)
    assert Labels(0.93, 0.35, 0.25).normalised() == pytest.approx([0.5, 0.5, 0.25])
