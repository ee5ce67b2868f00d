"""Evaluation metrics for audio tagging and classification.

- ``mean_average_precision``: AudioSet style. Average precision per class
  (area under the precision-recall step curve, ties grouped, no
  interpolation, as ``sklearn.metrics.average_precision_score``), averaged
  over the classes that have at least one positive.
- ``accuracy``: ESC-50 style single-label accuracy (top-1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmel.errors import ParameterError

__all__ = ["average_precision", "mean_average_precision", "accuracy"]


def _as_2d(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 2:
        raise ParameterError(f"{name} has shape {array.shape}; expected [n_clips, n_classes]")
    return array


def average_precision(*, targets: Any, scores: Any) -> np.ndarray:
    """Average precision of each class.

    Parameters
    ----------
    targets : array-like, shape [n_clips, n_classes], 0/1 or bool
    scores : array-like, shape [n_clips, n_classes], float
        Higher means more likely; any monotone scale (logits or sigmoids).

    Returns
    -------
    numpy.ndarray, shape [n_classes], float64
        NaN for a class without positives.

    Raises
    ------
    ParameterError
        For mismatched shapes or targets other than 0/1.
    """
    y = _as_2d("targets", targets)
    s = _as_2d("scores", scores).astype(np.float64)
    if y.shape != s.shape:
        raise ParameterError(f"targets have shape {y.shape} and scores {s.shape}; expected equal shapes")
    if not np.isin(y, (0, 1)).all():
        raise ParameterError("targets hold values other than 0 and 1; expected a binary [n_clips, n_classes] matrix")
    return np.array([_class_ap(y[:, c].astype(bool), s[:, c]) for c in range(y.shape[1])])


def _class_ap(positive: np.ndarray, score: np.ndarray) -> float:  # [n] bool, [n] float -> AP
    n_pos = positive.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-score, kind="mergesort")  # [n], best first
    score, positive = score[order], positive[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]  # [t] thresholds
    tp = np.cumsum(positive)[last_of_tie]  # [t] true positives at each threshold
    precision = tp / (last_of_tie + 1)  # [t]
    recall_step = np.diff(np.r_[0, tp]) / n_pos  # [t]
    return float(np.sum(recall_step * precision))


def mean_average_precision(*, targets: Any, scores: Any) -> float:
    """AudioSet mAP: per-class average precision, averaged over classes with positives.

    Parameters
    ----------
    targets : array-like, shape [n_clips, n_classes], 0/1
    scores : array-like, shape [n_clips, n_classes], float

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ParameterError
        For mismatched shapes, non-binary targets, or no class with a positive.
    """
    ap = average_precision(targets=targets, scores=scores)
    if np.isnan(ap).all():
        raise ParameterError("targets have no positive in any class; mean average precision is undefined")
    return float(np.nanmean(ap))


def accuracy(*, targets: Any, predictions: Any) -> float:
    """Top-1 accuracy (ESC-50 style).

    Parameters
    ----------
    targets : array-like, shape [n_clips], int
        True class indices.
    predictions : array-like, shape [n_clips] (class indices) or [n_clips, n_classes] (scores)
        Scores are reduced with argmax.

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ParameterError
        For empty input or mismatched lengths.
    """
    y = np.asarray(targets)
    p = np.asarray(predictions)
    if p.ndim == 2:
        p = p.argmax(axis=1)  # [n]
    if y.ndim != 1 or p.shape != y.shape:
        raise ParameterError(
            f"targets have shape {y.shape} and predictions {np.asarray(predictions).shape}; "
            "expected [n] and [n] or [n, n_classes]"
        )
    if y.size == 0:
        raise ParameterError("targets are empty; accuracy needs at least one clip")
    return float(np.mean(p == y))
