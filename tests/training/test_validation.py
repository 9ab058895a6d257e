import math

from sketch2face.training.validation import is_better


def test_lower_val_l1_is_better():
    assert is_better(0.2, 0.3)
    assert not is_better(0.3, 0.3), "a tie keeps the earlier epoch"
    assert not is_better(0.4, 0.3)


def test_nan_val_l1_is_never_the_best():
    assert not is_better(math.nan, 0.3)
    assert not is_better(math.nan, None), "a NaN first epoch would block every later one"


def test_the_first_val_l1_is_always_the_best_so_far():
    assert is_better(0.9, None)
