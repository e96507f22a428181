"""boxes: rectangles drawn on an image around every object of interest, each with a label.

A task's payload shows the image (e.g. `image_url`) and may give its size as `width` and
`height` in pixels (else the project's image_width/image_height, if set, bound the boxes).
Answer: a JSON list of boxes {"x1","y1","x2","y2","label"} (top-left, bottom-right, pixels),
between min_boxes and max_boxes of them; `label` from the project's labels (may be left out
when the project has one label or none). Gold: the boxes and the gold boxes pair up one to one
with IoU ≥ gold_min_iou and the same labels, none left over. Reliability: how often the
worker's boxes match the published boxes that way. Aggregation: boxes matched across workers
by IoU, a reliability-weighted box per cluster kept when enough weight supports it
(chalicelib.aggregation.by_kind). Result: the boxes, each with a confidence.
"""
import math
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.kinds.base import Kind, invalid
from chalicelib.kinds.common import Label, unique

COORDINATES = ("x1", "y1", "x2", "y2")


def iou(a: dict, b: dict) -> float:
    width = min(a["x2"], b["x2"]) - max(a["x1"], b["x1"])
    height = min(a["y2"], b["y2"]) - max(a["y1"], b["y1"])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    area = lambda box: (box["x2"] - box["x1"]) * (box["y2"] - box["y1"])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def matched_pairs(boxes: list[dict], others: list[dict], min_iou: float, default_label: str | None = None) -> int:
    """Boxes paired one to one, greedily by decreasing IoU, at IoU ≥ min_iou and same label (a
    box without one has `default_label`, the project's only label)."""
    label = lambda box: box.get("label") or default_label  # noqa: E731
    candidates = sorted(((iou(a, b), i, j) for i, a in enumerate(boxes) for j, b in enumerate(others)
                         if label(a) == label(b)), reverse=True)
    used_a, used_b, count = set(), set(), 0
    for overlap, i, j in candidates:
        if overlap < min_iou:
            break
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            count += 1
    return count


class Boxes(Kind):
    kind: Literal["boxes"] = "boxes"
    labels: list[Label] | None = Field(None, max_length=100, description="What a box may be labelled (null: no labels)")
    min_boxes: int = Field(0, ge=0, le=500, description="Fewest boxes an answer has (0: the image may show none)")
    max_boxes: int = Field(100, ge=1, le=500, description="Most boxes an answer has")
    image_width: float | None = Field(None, gt=0, description="Images' width in pixels, unless a task's payload gives `width`")
    image_height: float | None = Field(None, gt=0, description="Images' height in pixels, unless a task's payload gives `height`")
    gold_min_iou: float = Field(0.5, gt=0, le=1, description="IoU at which a box matches a gold box")

    needs_payload: ClassVar[bool] = True
    result_columns: ClassVar[tuple[str, ...]] = ("box_count", "box_confidences")
    _unique = field_validator("labels")(unique)

    @model_validator(mode="after")
    def _ordered(self):
        if self.max_boxes < self.min_boxes:
            raise ValueError("max_boxes must be at least min_boxes")
        return self

    def _size(self, payload: dict | None) -> tuple[float | None, float | None]:
        payload = payload or {}
        size = [payload.get("width", self.image_width), payload.get("height", self.image_height)]
        return tuple(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None
                     for v in size)

    def check(self, answer: Any, payload: dict | None = None) -> list[dict]:
        if not isinstance(answer, list):
            raise invalid("The answer must be a list of boxes.", "not_a_list")
        if len(answer) < self.min_boxes:
            raise invalid(f"Draw at least {self.min_boxes} boxes.", "too_few_boxes", min_boxes=self.min_boxes)
        if len(answer) > self.max_boxes:
            raise invalid(f"Draw at most {self.max_boxes} boxes.", "too_many_boxes", max_boxes=self.max_boxes)
        width, height = self._size(payload)
        return [self._box(box, index, width, height) for index, box in enumerate(answer)]

    def _box(self, box: Any, index: int, width: float | None, height: float | None) -> dict:
        if not isinstance(box, dict) or set(box) - {*COORDINATES, "label"} or any(
                isinstance(box.get(c), bool) or not isinstance(box.get(c), (int, float))
                or not math.isfinite(box[c]) for c in COORDINATES):
            raise invalid('Each box is {"x1", "y1", "x2", "y2"} in pixels, and a "label".', "not_a_box", index=index)
        x1, y1, x2, y2 = (float(box[c]) for c in COORDINATES)
        if x2 <= x1 or y2 <= y1:
            raise invalid("A box needs x2 > x1 and y2 > y1 (top-left, then bottom-right).", "empty_box", index=index)
        if min(x1, y1) < 0 or (width is not None and x2 > width) or (height is not None and y2 > height):
            raise invalid("A box lies outside the image.", "box_outside_image", index=index,
                          width=width, height=height)
        out = {"x1": x1, "y1": y1, "x2": x2, "y2": y2}
        label = box.get("label")
        if self.labels:
            if label is None and len(self.labels) == 1:
                label = self.labels[0]
            if label not in self.labels:
                raise invalid("Each box needs a label from the project's labels.", "unknown_label",
                              index=index, labels=self.labels)
            out["label"] = label
        elif label is not None:
            raise invalid("This project's boxes have no labels.", "unknown_label", index=index)
        return out

    def matches_gold(self, answer: Any, known: Any) -> bool:
        only_label = self.labels[0] if self.labels and len(self.labels) == 1 else None
        return len(answer) == len(known) == matched_pairs(answer, known, self.gold_min_iou, only_label)

    def result_fields(self, outcome) -> dict:
        confidences = (outcome.details or {}).get("box_confidences") or []
        return {"box_count": len(outcome.answer or []), "box_confidences": [round(float(c), 6) for c in confidences]}

    def aggregation_config(self) -> dict:
        return {**super().aggregation_config(), "iou": self.gold_min_iou}
