import numpy as np
import pandas as pd
import pytest

from skmm.exceptions import InvalidRowsError, MissingColumnError
from skmm.inputs import check_columns, check_frame
from skmm.inputs.checks import (
    REPORT_COLUMNS,
    collect_problems,
    is_missing,
    load_vectors,
    make_report,
    report_check,
    set_input_features,
)


def test_check_frame():
    df = pd.DataFrame({"x": [1]})
    assert check_frame(df) is df
    with pytest.raises(
        TypeError,
        match="X must be a pandas DataFrame with one row per item; got ndarray",
    ):
        check_frame(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="^data must .* got Series"):
        check_frame(df["x"], name="data")


def test_check_columns():
    df = pd.DataFrame({"image": [1], "text": [2]})
    check_columns(df, ["image", "text"])
    with pytest.raises(MissingColumnError) as info:
        check_columns(df, ["image", "caption", "other"], context="text_col of X")
    assert info.value.column == "caption"
    assert "'caption'" in str(info.value) and "text_col of X" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_make_report():
    empty = make_report([])
    assert empty.empty and list(empty.columns) == REPORT_COLUMNS == ["row", "column", "reason"]
    report = make_report(iter([(3, "image", "missing value"), (None, "text", "missing column")]))
    assert report.to_records(index=False).tolist() == [
        (3, "image", "missing value"),
        (None, "text", "missing column"),
    ]
    assert all(dtype == np.dtype(object) for dtype in report.dtypes)


@pytest.mark.parametrize(
    "cell", [None, np.nan, float("nan"), pd.NA, pd.NaT, np.float32("nan"), np.datetime64("NaT")]
)
def test_is_missing_true(cell):
    assert is_missing(cell) is True


@pytest.mark.parametrize(
    "cell",
    [0, 0.0, "", "nan", b"", np.zeros(3), np.array([np.nan]), [np.nan], (None,), {},
     pd.Timestamp(0), np.inf],
)
def test_is_missing_false(cell):
    assert is_missing(cell) is False


def test_collect_problems_runs_every_check_and_merges_reports():
    ran = []

    def ok():
        ran.append("ok")

    def bad(row):
        def check():
            ran.append(row)
            raise InvalidRowsError(make_report([(row, "c", "bad")]))
        return check

    collect_problems(ok)  # nothing raised
    with pytest.raises(InvalidRowsError) as info:
        collect_problems(bad(1), ok, report_check(make_report([(2, "d", "worse")])), bad(3))
    assert ran == ["ok", 1, "ok", 3]
    assert info.value.report.to_records(index=False).tolist() == [
        (1, "c", "bad"), (2, "d", "worse"), (3, "c", "bad"),
    ]
    assert list(info.value.report.index) == [0, 1, 2]

    def boom():
        raise KeyError("not a row problem")

    with pytest.raises(KeyError):  # other errors are not collected
        collect_problems(bad(1), boom)


def test_set_input_features():
    class Estimator:
        pass

    X = pd.DataFrame({"image": [1], "text": [2], 3: [4], ("a", 1): [5]})
    est = Estimator()
    set_input_features(est, X, ["text", "image", 3, "text"])  # the columns read, in order
    assert est.n_features_in_ == 3
    assert est.feature_names_in_.dtype == object
    assert est.feature_names_in_.tolist() == ["text", "image", 3]
    set_input_features(est, X, [("a", 1)])  # a tuple name stays one name
    assert est.feature_names_in_.shape == (1,) and est.feature_names_in_[0] == ("a", 1)
    with pytest.raises(MissingColumnError, match="'caption'"):
        set_input_features(Estimator(), X, ["caption"])


def test_collect_problems_keeps_hints():
    def hinted(row, hint):
        def check():
            raise InvalidRowsError(make_report([(row, "c", "bad")]), hints=[hint])
        return check

    with pytest.raises(InvalidRowsError) as info:
        collect_problems(hinted(1, "look here"), hinted(2, "look there"), hinted(3, "look here"))
    assert info.value.hints == ["look here", "look there"]
    assert str(info.value).count("hint: look here") == 1


# ----------------------------------------------------------------------------- vector columns


def test_load_vectors_good_path():
    values = pd.Series(
        [np.arange(3), [1.5, 2, 3], (0, 0, 1), np.ones(3, dtype=np.float64)],
        index=["a", "b", "c", "d"],
    )
    out = load_vectors(values, column="vec")
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_array_equal(out[1], [1.5, 2, 3])
    assert load_vectors(values, column="vec", length=3).tobytes() == out.tobytes()
    assert load_vectors(values.iloc[:0], column="vec").shape == (0, 0)
    assert load_vectors(values.iloc[:0], column="vec", length=5).shape == (0, 5)


def test_load_vectors_reports_column_rows_and_reasons():
    values = pd.Series(
        [np.ones(4), "a cat", np.ones((2, 2)), np.ones(3), [1.0, np.nan, 0, 0], None,
         [[1, 2], [3]], np.ones(4)],
        index=list("abcdefgh"),
    )
    with pytest.raises(InvalidRowsError) as info:
        load_vectors(values, column="vec")
    report = info.value.report
    assert list(report.columns) == ["row", "column", "reason"]
    assert report.to_records(index=False).tolist() == [
        ("b", "vec", "not a 1-D vector of numbers (got str)"),
        ("c", "vec", "not a 1-D vector (shape (2, 2))"),
        ("d", "vec", "vector of length 3, expected 4"),
        ("e", "vec", "non-finite value in vector"),
        ("f", "vec", "missing value"),
        ("g", "vec", "not a 1-D vector of numbers (got list)"),
    ]
    message = str(info.value)
    assert "'vec'" in message and "['d']: vector of length 3, expected 4" in message
    # the expected length, when given, is checked on the first row too
    with pytest.raises(InvalidRowsError, match=r"\['a', 'h'\]: vector of length 4, expected 5"):
        load_vectors(values[["a", "h"]], column="vec", length=5)
