"""The verdict rule, in-process: co-train exactly when a searched pair's gain exceeds the noise margin."""

from __future__ import annotations

import pytest

from raytp.serving.verdict import Evidence, decide, format_hyperparameters, rank_rows

HP = {"mode": "multitask", "lr": 0.003, "source_weight": 0.5}


def test_co_train_with_the_largest_gain_beyond_the_margin():
    ev = [Evidence("water", 0.2, 0.030, 0.01, HP), Evidence("shelter", 0.9, 0.050, 0.02, {**HP, "mode": "sequential"}),
          Evidence("storm", 0.99)]
    v = decide("food", ev, margin=0.02, seeds=3)
    assert v["action"] == "co-train" and v["source"] == "shelter" and v["mode"] == "sequential"
    assert v["expected_gain"] == 0.05 and v["interval"] == pytest.approx([0.03, 0.07])
    assert v["text"] == ("co-train with shelter (sequential, lr=0.003 source_weight=0.5), expected test gain +0.050 "
                         "(+0.030 to +0.070, ± noise margin over 3 seeds)")
    assert v["searched_pairs"] == 2


@pytest.mark.parametrize("gain", [0.02, 0.0199, -0.05])
def test_alone_when_no_gain_exceeds_the_margin(gain):
    v = decide("food", [Evidence("water", 0.9, gain, 0.01, HP), Evidence("storm", 0.99)], margin=0.02, seeds=3)
    assert v["action"] == "alone" and v["source"] is None and v["expected_gain"] is None
    assert v["text"].startswith("train alone: no searched pair beats the single-task model beyond the noise margin "
                                "0.020 (best tried: water, multitask")
    assert v["best_tried"]["source"] == "water" and v["best_tried"]["gain"] == gain


def test_alone_when_nothing_was_searched():
    v = decide("food", [Evidence("storm", 0.99)], margin=0.02, seeds=3)
    assert v["action"] == "alone" and v["best_tried"] is None and "no pair with target food was searched" in v["text"]


def test_bad_margin_is_refused():
    with pytest.raises(ValueError, match="noise margin"):
        decide("food", [], margin=float("nan"), seeds=3)


def test_rows_measured_by_gain_then_predicted_by_probability():
    ev = [Evidence("a", 0.9), Evidence("b", 0.1, -0.01), Evidence("c", None, 0.04), Evidence("d", 0.5),
          Evidence("e")]
    rows = rank_rows(ev, margin=0.02)
    assert [e.source for e, _ in rows] == ["c", "b", "a", "d"]
    assert rows[0][1]["beyond_noise"] is True and rows[1][1]["beyond_noise"] is False
    assert rows[0][1]["interval"] == pytest.approx([0.02, 0.06])
    assert rows[2][1]["interval"] is None and rows[2][1]["rank_basis"] == "predicted: P(beneficial) 0.900, not searched"


def test_format_hyperparameters():
    assert format_hyperparameters(None) == "-"
    assert format_hyperparameters({"mode": "sequential"}) == "-"
    assert format_hyperparameters({"mode": "x", "lr": 0.00312345, "epochs": 8, "w": None}) == "lr=0.00312 epochs=8"
