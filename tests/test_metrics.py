"""fastmel.metrics against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from fastmel.errors import ParameterError
from fastmel.metrics import accuracy, average_precision, mean_average_precision

metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is the reference for the metrics")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_average_precision_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    targets = (rng.random((200, 30)) < 0.1).astype(int)
    targets[:, 5] = 0  # a class without positives is left out of the mean
    scores = rng.random((200, 30)) + 0.3 * targets
    scores[:50] = np.round(scores[:50], 1)  # ties
    has_positive = targets.sum(axis=0) > 0
    ref = metrics.average_precision_score(targets[:, has_positive], scores[:, has_positive], average=None)
    np.testing.assert_allclose(average_precision(targets=targets, scores=scores)[has_positive], ref, rtol=1e-12)
    assert np.isnan(average_precision(targets=targets, scores=scores)[5])
    assert mean_average_precision(targets=targets, scores=scores) == pytest.approx(ref.mean(), rel=1e-12)


def test_accuracy_matches_sklearn_for_labels_and_scores():
    rng = np.random.default_rng(3)
    targets = rng.integers(0, 50, 400)
    scores = rng.random((400, 50))
    scores[np.arange(200), targets[:200]] += 1.0
    ref = metrics.accuracy_score(targets, scores.argmax(axis=1))
    assert accuracy(targets=targets, predictions=scores) == pytest.approx(ref)
    assert accuracy(targets=targets, predictions=scores.argmax(axis=1)) == pytest.approx(ref)


def test_metric_errors():
    with pytest.raises(ParameterError, match=r"targets have shape \(3, 2\) and scores \(3, 4\); expected equal shapes"):
        mean_average_precision(targets=np.zeros((3, 2)), scores=np.zeros((3, 4)))
    with pytest.raises(ParameterError, match=r"no positive in any class"):
        mean_average_precision(targets=np.zeros((3, 2)), scores=np.zeros((3, 2)))
    with pytest.raises(ParameterError, match=r"values other than 0 and 1"):
        mean_average_precision(targets=np.full((3, 2), 2), scores=np.zeros((3, 2)))
    with pytest.raises(ParameterError, match=r"scores has shape \(3,\); expected \[n_clips, n_classes\]"):
        average_precision(targets=np.zeros((3, 2)), scores=np.zeros(3))
    with pytest.raises(ParameterError, match=r"targets have shape \(3,\) and predictions \(4,\)"):
        accuracy(targets=np.zeros(3), predictions=np.zeros(4))
    with pytest.raises(ParameterError, match=r"targets are empty"):
        accuracy(targets=np.zeros(0), predictions=np.zeros(0))
