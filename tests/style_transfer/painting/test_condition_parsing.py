"""The condition parsers on generated hostile input (Hypothesis): any text or any numbers
give convex weights or one `BadInput` line, never another exception."""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from style_transfer.base.errors import BadInput
from style_transfer.painting import conditions

NAMES = ["wave", "scream", "udnie"]
# Pure Python and NumPy: 200 examples take well under a second.
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_convex(weights, size):
    assert weights.dtype == np.float32 and weights.shape == (size,)
    assert np.all(np.isfinite(weights)) and weights.min() >= 0
    assert abs(float(weights.sum()) - 1) <= conditions.WEIGHT_TOLERANCE


def convex_or_one_line(function):
    """`function()`'s weights, or None when it raised a one-line BadInput."""
    try:
        return function()
    except BadInput as error:
        assert str(error) and "\n" not in str(error)
        return None


def test_weights_whose_sum_overflows_are_normalized_not_called_zero():
    weights = conditions.parse_blend("wave=1e308,scream=1e308", NAMES, normalize=True)
    np.testing.assert_allclose(weights, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(conditions.check_weights([1.7e308, 1e308, 0], normalize=True),
                               [1.7 / 2.7, 1 / 2.7, 0.0], rtol=1e-6)


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from(["1e308", "1e-320", "-0", "0x10", "1_0", "²", "nan", "",
                                     " 0.5 ", "9" * 400]),
                    st.integers(-10**30, 10**30))
styles = st.one_of(st.sampled_from(NAMES + ["0", "2", "3", "-1", "WAVE", " wave", "²", ""]),
                   st.text(max_size=8))
pairs = st.lists(st.tuples(styles, numbers).map(lambda pair: f"{pair[0]}={pair[1]}"),
                 max_size=4).map(",".join)


@FAST
@given(text=st.one_of(pairs, st.text(max_size=40)), normalize=st.booleans())
def test_any_blend_text_is_convex_weights_or_one_bad_input_line(text, normalize):
    weights = convex_or_one_line(lambda: conditions.parse_blend(text, NAMES, normalize))
    if weights is not None:
        assert_convex(weights, len(NAMES))


@FAST
@given(values=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1,
                       max_size=5),
       normalize=st.booleans())
def test_any_weight_vector_is_convex_or_one_bad_input_line(values, normalize):
    weights = convex_or_one_line(lambda: conditions.check_weights(values, normalize))
    if weights is not None:
        assert_convex(weights, len(values))
    finite_positive = all(np.isfinite(value) and value >= 0 for value in values) and max(
        values) > 0
    if normalize and finite_positive:  # Any finite, non-negative, non-zero vector works.
        assert weights is not None


@pytest.mark.parametrize("style", ["wave", 1, "2", {"wave": 0.5, "udnie": 0.5}])
def test_style_weights_of_each_kind_are_convex(style):
    assert_convex(conditions.style_weights(style, NAMES), len(NAMES))


def test_style_names_in_any_script_keep_their_letters_in_labels():
    # They name the pictures' files: stripped to ASCII, "波" and "雪" were both "style".
    names = ["波", "雪", "café", "a/b c"]
    assert [conditions.style_label(index, names) for index in range(4)] == [
        "波", "雪", "café", "a-b-c"]
    assert conditions.style_label({0: 0.5, 1: 0.5}, names) == "波0.5+雪0.5"


def test_a_label_too_long_for_a_file_name_is_cut_and_told_apart_by_a_digest():
    # A blend of 26 styles made a label of over 360 characters: no file can have that name.
    names = [f"style_{index}" for index in range(26)]
    labels = {conditions.style_label(dict.fromkeys(names[first:], 1.0), names)
              for first in (0, 1)}
    assert len(labels) == 2
    for label in labels:
        assert len(label.encode()) <= conditions.MAX_LABEL_BYTES
        assert label.startswith("style_") and re.fullmatch(r".*-[0-9a-f]{8}", label)
    assert conditions.style_label("波" * 40, ["波" * 40]).startswith("波" * 29)
