"""Per-class precision, recall and F1 (zoo.train.evaluate.class_scores) against hand counts."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.train.evaluate import class_scores


def test_scores_are_the_hand_counts_of_the_confusion_matrix():
    confusion = np.array([[5, 1, 0, 0],   # class 0: 6 images, 5 found
                          [2, 3, 0, 1],   # class 1: 6 images, 3 found
                          [4, 0, 0, 0],   # class 2: 4 images, never predicted, never found
                          [0, 0, 0, 0]])  # class 3: no images, predicted once (wrongly)
    scores = class_scores(confusion)
    assert [s["support"] for s in scores] == [6, 6, 4, 0]
    # class 0: predicted 11 times, 5 right
    assert scores[0]["precision"] == pytest.approx(5 / 11) and scores[0]["recall"] == pytest.approx(5 / 6)
    assert scores[0]["f1"] == pytest.approx(2 * (5 / 11) * (5 / 6) / (5 / 11 + 5 / 6))
    assert scores[1]["precision"] == pytest.approx(3 / 4) and scores[1]["recall"] == pytest.approx(3 / 6)
    # never predicted: precision has nothing to divide by; all missed: recall and F1 are 0
    assert scores[2] == {"precision": None, "recall": 0.0, "f1": 0.0, "support": 4}
    # predicted once, never right, and without images: no recall
    assert scores[3] == {"precision": 0.0, "recall": None, "f1": None, "support": 0}


def test_a_class_predicted_but_never_right_has_f1_zero():
    scores = class_scores(np.array([[0, 3], [2, 0]]))
    assert [s["f1"] for s in scores] == [0.0, 0.0]
    assert all(isinstance(s["precision"], float) for s in scores)
