import pytest

from sketch2face.config import TrainParams
from sketch2face.training.schedules import lr_factor


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("linear", [1.0, 1.0, 1.0, 0.75, 0.5, 0.25]),
        ("cosine", [1.0, 1.0, 1.0, 0.854, 0.5, 0.146]),
        ("step", [1.0, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01]),  # x 0.1 after each 2 decay epochs
    ],
)
def test_learning_rate_is_constant_then_decays(policy, expected):
    factor = lr_factor(TrainParams(epochs_constant=3, epochs_decay=3, lr_policy=policy, lr_step_epochs=2))
    assert [round(factor(e), 3) for e in range(len(expected))] == expected
    if policy != "step":
        assert factor(50) == pytest.approx(0.0, abs=1e-12), "training past the schedule must never ascend the gradient"
