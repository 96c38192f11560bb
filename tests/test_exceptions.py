"""skmm.exceptions: messages name column, rows and reason, and stay short whatever the size."""

import pickle

import numpy as np
import pandas as pd
import pytest

from skmm._base import check_labels
from skmm.exceptions import (
    MAX_GROUPS_SHOWN,
    InputError,
    InvalidRowsError,
    MissingColumnError,
    format_rows,
    shorten,
)
from skmm.inputs.checks import make_report

N = 100_000


def test_format_rows_is_bounded():
    assert format_rows([3, 7, "a"]) == "[3, 7, 'a']"
    assert format_rows(range(N)) == f"[0, 1, 2, 3, 4] and {N - 5} more"
    assert format_rows(iter([1, 2])) == "[1, 2]"  # any iterable
    long = ["x" * 10_000] * 10
    assert len(format_rows(long)) < 400  # each label is cut
    assert format_rows(pd.Index(["a", "b"])) == "['a', 'b']"


def test_shorten():
    assert shorten("abc", 10) == "abc"
    assert shorten("a" * 20, 10) == "a" * 7 + "..."


def test_one_reason_per_group_keeps_the_old_format():
    report = make_report([(3, "a", "not a finite number"), (7, "a", "not a finite number"),
                          (2, "text", "empty text")])
    err = InvalidRowsError(report)
    msg = str(err)
    assert msg.startswith("3 unusable row(s) in X:")
    assert "column 'a', rows [3, 7]: not a finite number" in msg
    assert "column 'text', rows [2]: empty text" in msg
    assert msg.index("'a'") < msg.index("'text'")  # in the order of the report
    assert err.column == "a" and err.rows == [3, 7, 2]
    assert isinstance(err, InputError) and isinstance(err, ValueError)


def test_rows_are_grouped_by_column_and_kind_of_reason():
    report = make_report(
        [(i, "image", f"file not found: imgs/{i}.jpg") for i in range(150)]
        + [(5, "text", "empty text"), (9, "image", "cannot identify image file")])
    msg = str(InvalidRowsError(report))
    assert ("column 'image', rows [0, 1, 2, 3, 4] and 145 more: file not found: "
            "imgs/0.jpg, imgs/1.jpg and 148 others") in msg
    assert "column 'image', rows [9]: cannot identify image file" in msg
    assert "column 'text', rows [5]: empty text" in msg
    assert "150 unusable row(s)" in msg  # row 5 and 9 are among the 150
    assert len(msg) < 600


def test_message_with_100k_bad_rows_is_bounded_and_report_is_complete():
    rows = [f"row-{i}" for i in range(N)]
    report = make_report(
        [(r, "image", f"file not found: /data/photos/{r}.jpg") for r in rows]
        + [(r, "text", "empty text") for r in rows[::2]])
    err = InvalidRowsError(report)
    msg = str(err)
    assert len(msg) < 1000, len(msg)
    assert f"{N} unusable row(s)" in msg and f"and {N - 5} more" in msg
    assert len(err.report) == N + N // 2  # every problem is kept
    assert err.rows == rows and err.report["row"].nunique() == N


def test_number_of_groups_shown_is_capped():
    problems = [(i, f"col{i % 40}", f"vector of length {i % 7}, expected 9") for i in range(N)]
    err = InvalidRowsError(make_report(problems))
    msg = str(err)
    assert len(msg) < 1500, len(msg)
    assert msg.count("column 'col") == MAX_GROUPS_SHOWN
    n_groups = len({(c, r) for _, c, r in problems})
    assert f"and {n_groups - MAX_GROUPS_SHOWN} more kinds of problem in" in msg
    assert "'col5', 'col6', 'col7' and 37 more" in msg


def test_long_names_labels_and_details_are_cut():
    long = "x" * 5000
    report = make_report([(long, long, f"file not found: {long}"),
                          ("b", long, f"file not found: {long}y")])
    msg = str(InvalidRowsError(report))
    assert len(msg) < 800


def test_hints_are_shown_once_after_the_groups():
    report = make_report([(1, "image", "file not found: a.png")])
    report.attrs["hints"] = ["look in the right folder"]
    err = InvalidRowsError(report)
    assert err.hints == ["look in the right folder"]
    assert "\n  hint: look in the right folder\n" in str(err)
    err = InvalidRowsError(report, hints=["other", "other", None])
    assert err.hints == ["other"] and "look in" not in str(err)


def test_missing_column_error_is_bounded():
    columns = [f"feature_{i}_{'y' * 100}" for i in range(10_000)]
    err = MissingColumnError("image", columns, context="image_col of CRVAEEmbedder")
    msg = str(err)
    assert "column 'image' is missing from X (image_col of CRVAEEmbedder)" in msg
    assert "and 9980 more" in msg and len(msg) < 1600
    assert err.column == "image"


def test_check_labels_message_is_bounded():
    X = pd.DataFrame({"a": np.zeros(N)})
    y = np.full(N, np.nan, dtype=object)
    y[:2] = ["a", "b"]
    with pytest.raises(InputError, match=r"missing labels for rows \[2, 3, 4, 5, 6\] and") as info:
        check_labels(X, y, estimator=object())
    assert len(str(info.value)) < 200 and len(info.value.rows) == N - 2


def test_errors_pickle_with_their_state():
    report = make_report([(1, "image", "file not found: a.png"), (2, "text", "empty text")])
    err = InvalidRowsError(report, hints=["a hint"])
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is InvalidRowsError and str(back) == str(err)
    assert back.report.equals(report) and back.hints == ["a hint"]
    assert back.column == "image" and back.rows == [1, 2]
    missing = pickle.loads(pickle.dumps(MissingColumnError("image", ["a", "b"])))
    assert str(missing) == "column 'image' is missing from X; X has columns ['a', 'b']"
    assert missing.column == "image"


def test_encoder_error_is_an_input_error_and_pickles_with_its_rows():
    from skmm.exceptions import EncoderError

    try:
        try:
            raise RuntimeError("expected 1 channel")
        except RuntimeError as err:
            raise EncoderError("image_encoder of CRVAEEmbedder: ...", column="image",
                               rows=["a", "b"]) from err
    except EncoderError as err:
        error = err
    assert isinstance(error, InputError) and isinstance(error, ValueError)
    assert isinstance(error.__cause__, RuntimeError)
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is EncoderError and str(restored) == str(error)
    assert restored.column == "image" and restored.rows == ["a", "b"]
