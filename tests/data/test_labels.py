import numpy as np
import pytest

from jaxmicro.data import (
    LABEL_FIELDS,
    LABEL_RANGES,
    LEGACY_LABEL_NORMALISATION,
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
    [
        ("am_wt", 0.75),
        ("am_wt", 0.995),
        ("porosity", 0.1),
        ("porosity", 0.65),
        ("adhesion", -0.1),
        ("adhesion", 1.5),
        ("porosity", float("nan")),
        ("am_wt", float("inf")),
    ],
)
def test_out_of_range_or_nan_label_names_field_and_range(field, value):
    values = {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5, field: value}
    low, high = LABEL_RANGES[field]
    with pytest.raises(ValueError, match=rf"{field}=.*\[{low}, {high}\]"):
        Labels(**values)


def test_range_edges_are_allowed():
    Labels(0.80, 0.15, 0.0)
    Labels(0.99, 0.60, 1.0)


def test_batch_validation_reports_bad_row_and_rejects_wrong_shape():
    batch = np.array([[0.93, 0.36, 0.5], [0.93, 0.70, 0.5]])
    with pytest.raises(ValueError, match="porosity=0.7"):
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
    np.testing.assert_allclose(normalise_labels(low, LABEL_RANGES), 0.0, atol=1e-12)
    np.testing.assert_allclose(normalise_labels(high, LABEL_RANGES), 1.0, atol=1e-12)
    rng = np.random.default_rng(0)
    labels = low + rng.random((10, 3)) * (high - low)
    round_trip = denormalise_labels(normalise_labels(labels, LABEL_RANGES), LABEL_RANGES)
    np.testing.assert_allclose(round_trip, labels, atol=1e-12)
    legacy = normalise_labels(Labels(0.93, 0.35, 0.25).to_array(), LEGACY_LABEL_NORMALISATION)
    assert legacy == pytest.approx([0.5, 0.5, 0.25])


def _csv(tmp_path, text: str):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    return path


def test_labels_csv_takes_columns_in_any_order_and_fills_the_missing_ones(tmp_path):
    from jaxmicro.data.labels import read_labels_csv

    path = _csv(tmp_path, "porosity, am_wt\n0.30,0.92\n\n0.40,0.95\n")
    labels = read_labels_csv(path, {"adhesion": 0.25})
    np.testing.assert_allclose(labels, [[0.92, 0.30, 0.25], [0.95, 0.40, 0.25]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("am_wt,porosity\n0.93,0.30\n0.93,abc\n", r"labels.csv: line 3, porosity: 'abc' is not a number"),
        ("am_wt,porosity\n0.93,0.30\n0.93\n", r"labels.csv: line 3 has 1 values, the header 2"),
        ("am_wt,porosity\n0.93,nan\n", r"labels.csv: line 2: label porosity=nan is outside its range"),
        ("am_wt,porosity\n0.93,0.9\n", r"labels.csv: line 2: label porosity=0.9 is outside"),
        ("am_wt,poros\n0.93,0.3\n", r"labels.csv: line 1: unknown columns \['poros'\]"),
        ("am_wt,am_wt\n0.93,0.93\n", r"labels.csv: line 1: a column is named twice"),
        ("am_wt\n", r"labels.csv: needs a header row"),
    ],
)
def test_labels_csv_errors_name_the_file_the_line_and_the_field(tmp_path, text, message):
    from jaxmicro.data.labels import read_labels_csv

    with pytest.raises(ValueError, match=message):
        read_labels_csv(_csv(tmp_path, text), {"porosity": 0.3, "adhesion": 0.5})


def test_labels_csv_that_is_not_text_or_lacks_a_column_without_a_fixed_value(tmp_path):
    from jaxmicro.data.labels import read_labels_csv

    path = tmp_path / "labels.csv"
    path.write_bytes(b"\xff\xfe\x00garbage\n\x00\x01")
    with pytest.raises(ValueError, match="not a readable text CSV"):
        read_labels_csv(path, {})
    with pytest.raises(ValueError, match=r"no column for \['adhesion'\] and no fixed value"):
        read_labels_csv(_csv(tmp_path, "am_wt,porosity\n0.93,0.3\n"), {})
