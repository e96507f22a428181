"""Each task kind's answer validation (400 invalid_answer naming the rule), normalisation and
gold comparison with the requester's tolerance. Pure: no server involved."""
import pytest

from chalicelib.errors import BadRequest
from chalicelib.schemas.answers import parse_answer_type


def kind(**config):
    return parse_answer_type(config)


def refused(answer_type, answer, payload=None) -> str:
    with pytest.raises(BadRequest) as caught:
        answer_type.check(answer, payload)
    assert caught.value.code == "invalid_answer" and caught.value.status == 400
    return caught.value.details["rule"]


def test_multiple_choice_checks_labels_and_counts_and_stores_them_in_label_order():
    mc = kind(kind="multiple_choice", labels=["a", "b", "c", "d"], min_selected=1, max_selected=2)
    assert mc.check(["c", "a"]) == ["a", "c"]
    assert refused(mc, ["a", "e"]) == "unknown_label"
    assert refused(mc, ["a", "b", "c"]) == "too_many_labels"
    assert refused(mc, []) == "too_few_labels"
    assert refused(mc, ["a", "a"]) == "duplicate_label"
    assert refused(mc, "a") == "not_a_list"


def test_multiple_choice_gold_is_jaccard_at_the_threshold():
    exact = kind(kind="multiple_choice", labels=["a", "b", "c"])
    assert exact.matches_gold(["a", "b"], ["a", "b"]) and not exact.matches_gold(["a"], ["a", "b"])
    assert exact.matches_gold([], [])
    loose = kind(kind="multiple_choice", labels=["a", "b", "c"], gold_min_jaccard=0.5)
    assert loose.matches_gold(["a"], ["a", "b"]) and not loose.matches_gold(["a"], ["a", "b", "c"])


def test_number_bounds_decimals_and_tolerance():
    n = kind(kind="number", min=0, max=100, decimals=1, unit="kg", gold_abs_tolerance=2, gold_rel_tolerance=0.1)
    assert n.check(12.345) == 12.3 and n.check(7) == 7.0
    assert refused(n, 100.5) == "out_of_bounds"
    assert refused(n, -1) == "out_of_bounds"
    assert refused(n, "12") == "not_a_number"
    assert refused(n, True) == "not_a_number"
    assert refused(n, float("nan")) == "not_a_number"
    assert n.matches_gold(11.9, 10) and not n.matches_gold(12.1, 10)  # absolute 2 beats 10 % of 10
    assert n.matches_gold(88, 80) and not n.matches_gold(88.1, 80)  # 10 % of 80 = 8 beats 2
    assert kind(kind="number").matches_gold(3.0, 3) and not kind(kind="number").matches_gold(3.01, 3)


def test_rating_is_a_position_on_the_scale_and_gold_counts_steps():
    r = kind(kind="rating", scale=["bad", "poor", "fair", "good", "great"], gold_within_steps=1)
    assert r.check(5) == 5 and r.check(2.0) == 2
    assert refused(r, 0) == "out_of_bounds" and refused(r, 6) == "out_of_bounds"
    assert refused(r, 2.5) == "not_an_integer" and refused(r, "good") == "not_an_integer"
    assert r.matches_gold(4, 5) and r.matches_gold(5, 4) and not r.matches_gold(3, 5)


def test_text_is_normalised_as_configured_and_length_limited():
    t = kind(kind="text", max_length=20, lowercase=True, strip_punctuation=True)
    assert t.check("  Cafe\u0301,  I\u2019M\n here! ") == "café i'm here"
    assert refused(t, "x" * 21) == "text_too_long"
    assert refused(t, "   ") == "text_too_short"
    assert refused(t, 12) == "not_a_text"
    keep = kind(kind="text")
    assert keep.check("  Hello   World ") == "Hello World"  # case kept, whitespace collapsed by default


def test_text_gold_is_normalised_equality_or_word_error_rate():
    exact = kind(kind="text", lowercase=True)
    assert exact.matches_gold("the cat sat", "The  cat sat") and not exact.matches_gold("the cat", "the cat sat")
    wer = kind(kind="text", gold_max_wer=0.25)
    assert wer.matches_gold("the cat sat on mat", "the cat sat on the mat")  # 1 deletion in 6 words
    assert not wer.matches_gold("a cat sat on mat", "the cat sat on the mat")  # 2 errors in 6


def test_pairwise_answer_names_a_shown_item_or_a_tie_when_allowed():
    payload = {"left": {"id": "P1", "image_url": "https://x/1.jpg"}, "right": "P2"}
    strict, ties = kind(kind="pairwise"), kind(kind="pairwise", allow_tie=True)
    assert strict.check("P2", payload) == "P2"
    assert refused(strict, "P3", payload) == "unknown_item"
    assert refused(strict, "tie", payload) == "tie_not_allowed"
    assert ties.check("tie", payload) == "tie"
    assert strict.matches_gold("P1", "P1") and not ties.matches_gold("tie", "P1")
    with pytest.raises(BadRequest) as caught:
        strict.check_payload({"left": "P1", "right": "P1"})
    assert caught.value.code == "invalid_payload"
    with pytest.raises(BadRequest):
        strict.check_payload({"left": "P1"})


def test_boxes_inside_the_image_with_labels_and_counts():
    b = kind(kind="boxes", labels=["car", "person"], max_boxes=2, image_width=100, image_height=50)
    box = {"x1": 1, "y1": 2, "x2": 30, "y2": 40, "label": "car"}
    assert b.check([box]) == [{"x1": 1.0, "y1": 2.0, "x2": 30.0, "y2": 40.0, "label": "car"}]
    assert refused(b, [{**box, "x2": 1}]) == "empty_box"
    assert refused(b, [{**box, "y2": 60}]) == "box_outside_image"
    assert b.check([{**box, "y2": 60}], {"width": 100, "height": 80})[0]["y2"] == 60  # the task's own size
    assert refused(b, [{**box, "x1": -3}]) == "box_outside_image"
    assert refused(b, [box, box, box]) == "too_many_boxes"
    assert refused(b, [{**box, "label": "tree"}]) == "unknown_label"
    assert refused(b, [{k: v for k, v in box.items() if k != "label"}]) == "unknown_label"
    assert refused(b, [{**box, "x1": "1"}]) == "not_a_box"
    assert refused(b, {"boxes": []}) == "not_a_list"
    one_label = kind(kind="boxes", labels=["face"])
    assert one_label.check([{"x1": 0, "y1": 0, "x2": 1, "y2": 1}])[0]["label"] == "face"


def test_boxes_gold_pairs_every_box_at_the_iou_threshold():
    b = kind(kind="boxes", gold_min_iou=0.5)
    gold = [{"x1": 0, "y1": 0, "x2": 10, "y2": 10}, {"x1": 20, "y1": 20, "x2": 30, "y2": 30}]
    shifted = [{"x1": 21, "y1": 20, "x2": 31, "y2": 30}, {"x1": 1, "y1": 0, "x2": 11, "y2": 10}]  # IoU 0.82
    assert b.matches_gold(shifted, gold)
    assert not b.matches_gold(shifted[:1], gold)  # a gold box missed
    assert not b.matches_gold([*shifted, {"x1": 50, "y1": 50, "x2": 60, "y2": 60}], gold)  # one too many
    assert not b.matches_gold([{"x1": 5, "y1": 5, "x2": 15, "y2": 15}, shifted[0]], gold)  # IoU 0.14
    assert b.matches_gold([], [])


def test_answer_types_refuse_inconsistent_settings():
    from pydantic import ValidationError

    for bad in ({"kind": "multiple_choice", "labels": ["a", "b"], "min_selected": 2, "max_selected": 1},
                {"kind": "number", "min": 5, "max": 1}, {"kind": "rating", "scale": ["only"]},
                {"kind": "boxes", "min_boxes": 3, "max_boxes": 2}, {"kind": "text", "max_length": 0},
                {"kind": "pairwise", "allow_ties": True}, {"kind": "ranking"}):
        with pytest.raises(ValidationError):
            parse_answer_type(bad)


def test_the_api_function_imports_no_numpy():
    import subprocess
    import sys

    code = "import app, sys; import chalicelib.kinds; assert 'numpy' not in sys.modules, 'numpy imported'"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
