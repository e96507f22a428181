"""What tools.replay needs to know of each task kind: which kind a dataset folder holds, the
answer type a requester would set for it, how to read its answers and gold, what a task shows,
and the kind's quality metric against gold.

Dataset folders (../shared/datasets/README.md): `<kind>-<name>` with answers.csv
`worker,task,answer` (pairwise: `worker,task,left,right,answer`) and gold.csv `task,answer`
(pairwise: `item,rank`, 1 = best); single-choice folders (`rte`, ...) use `label` columns.
"""
import hashlib
import json
import math
import re
from pathlib import Path

from chalicelib.kinds import pairwise
from chalicelib.kinds.boxes import matched_pairs
from chalicelib.kinds.text import word_error_rate
from chalicelib.schemas.answers import parse_answer_type
from chalicelib.schemas.common import ID_PATTERN

PREFIXES = {"numeric-": "number", "text-": "text", "multilabel-": "multiple_choice", "box-": "boxes",
            "pairwise-": "pairwise", "rating-": "rating"}


def kind_of(folder: Path) -> str:
    return next((kind for prefix, kind in PREFIXES.items() if folder.name.startswith(prefix)), "single_choice")


def task_id(dataset_id: str) -> str:
    """A valid task id for a dataset's task id: itself when valid, else its allowed characters
    and a hash of the original (two ids never meet)."""
    if re.match(ID_PATTERN, dataset_id):
        return dataset_id
    cleaned = re.sub(r"[^A-Za-z0-9._:\-]", "-", dataset_id).lstrip("._:-")[:100]
    return f"{cleaned or 'task'}-{hashlib.sha256(dataset_id.encode()).hexdigest()[:10]}"


def value(kind: str, raw: str):
    """An answer or gold value as a worker sends it (the CSV holds text)."""
    if kind == "number":
        return float(raw)
    if kind == "rating":
        return int(float(raw))
    if kind in ("multiple_choice", "boxes"):
        return json.loads(raw)
    return raw


def answer_type(kind: str, values: list, gold: dict) -> dict:
    """The answer type a requester would give the dataset's project (bounds and labels from the
    data itself; tolerances as a requester would set them for the kind's usual metric)."""
    if kind == "single_choice":
        return {"kind": kind, "labels": sorted(set(values) | set(gold.values()))}
    if kind == "number":
        everything = [*values, *gold.values()]
        low, high = min(everything), max(everything)
        return {"kind": kind, "min": low, "max": high, "gold_abs_tolerance": round((high - low) / 20, 6)}
    if kind == "rating":
        return {"kind": kind, "scale": [str(i) for i in range(1, max([*values, *gold.values()]) + 1)]}
    if kind == "text":
        return {"kind": kind, "max_length": 2000, "min_length": 0, "lowercase": True, "strip_punctuation": True,
                "gold_max_wer": 0.1}
    if kind == "multiple_choice":
        labels = sorted({label for answer in values for label in answer} | {label for g in gold.values() for label in g})
        return {"kind": kind, "labels": labels, "gold_min_jaccard": 1.0}
    if kind == "boxes":
        return {"kind": kind, "max_boxes": max(len(v) for v in [*values, *gold.values()]), "gold_min_iou": 0.5}
    if kind == "pairwise":
        return {"kind": kind, "allow_tie": pairwise.TIE in values}
    raise ValueError(f"unknown kind {kind!r}")


def pairwise_gold(pairs: dict, ranks: dict, allow_tie: bool) -> dict:
    """A pair's known winner from the items' gold ranks (equal ranks: a tie, if allowed)."""
    gold = {}
    for task, (left, right) in pairs.items():
        if left in ranks and right in ranks:
            if ranks[left] != ranks[right]:
                gold[task] = left if ranks[left] < ranks[right] else right
            elif allow_tie:
                gold[task] = pairwise.TIE
    return gold


def payload(kind: str, name: str, task: str, pairs: dict) -> dict:
    if kind == "pairwise":
        left, right = pairs[task]
        return {"left": {"id": left}, "right": {"id": right}, "source": name}
    return {"source": name}


# --- Quality against gold, with the kind's metric -------------------------------------------
def kendall_tau_b(x: list[float], y: list[float]) -> float | None:
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denominator if denominator else None


def quality(kind: str, config: dict, rows: list[dict], gold: dict, judged: dict | None = None,
            ranking: list[dict] | None = None, item_ranks: dict | None = None) -> dict:
    """Scored on the published answers of non-gold tasks with a gold answer (`rows`):
    gold_agreement (share matched within the project's gold tolerance; not for partial gold)
    and the kind's metric."""
    model = parse_answer_type(config)
    answer = (lambda r: r["label"]) if kind == "single_choice" else (lambda r: r["answer"])
    report = {"gold_agreement": round(sum(model.matches_gold(answer(r), gold[r["task_id"]]) for r in rows)
                                      / len(rows), 4) if rows and not judged else None}
    if not rows and kind != "pairwise":
        return report
    if kind == "single_choice":
        report["accuracy"] = report["gold_agreement"]
    elif kind == "number":
        report["mae"] = round(sum(abs(r["answer"] - gold[r["task_id"]]) for r in rows) / len(rows), 4)
    elif kind == "text":
        report["wer"] = round(sum(word_error_rate(r["answer"], model.normalise(gold[r["task_id"]])) for r in rows)
                              / len(rows), 4)
    elif kind == "boxes":
        f1 = [2 * matched_pairs(r["answer"], gold[r["task_id"]], 0.5) / (len(r["answer"]) + len(gold[r["task_id"]]))
              if r["answer"] or gold[r["task_id"]] else 1.0 for r in rows]
        report["f1_iou50"] = round(sum(f1) / len(f1), 4)
    elif kind == "multiple_choice":
        report.update(label_f1(rows, gold, config["labels"], judged or {}))
    elif kind == "pairwise" and ranking and item_ranks:
        report["kendall_tau_b"] = ranking_tau(ranking, item_ranks)
    return report


def label_f1(rows: list[dict], gold: dict, labels: list[str], judged: dict) -> dict:
    """Micro F1 and accuracy over (task, label) decisions, on the labels gold judged (`judged`: task -> labels,
    for a partial gold; every label otherwise)."""
    tp = fp = fn = decisions = 0
    for r in rows:
        judged_labels = judged.get(r["task_id"], labels)
        truth = set(gold[r["task_id"]]) & set(judged_labels)
        said = set(r["answer"]) & set(judged_labels)
        tp, fp, fn = tp + len(said & truth), fp + len(said - truth), fn + len(truth - said)
        decisions += len(judged_labels)
    return {"f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp + fp + fn else None,
            "label_accuracy": round(1 - (fp + fn) / decisions, 4) if decisions else None}


def ranking_tau(ranking: list[dict], item_ranks: dict) -> float | None:
    """Kendall tau-b between published scores and gold ranks, averaged over groups of items
    comparable with each other (ids `group|item`: one group per query; else one group)."""
    groups: dict[str, list[tuple[float, float]]] = {}
    for entry in ranking:
        if entry["item"] in item_ranks:
            group = entry["item"].split("|")[0] if "|" in entry["item"] else ""
            groups.setdefault(group, []).append((entry["score"], -item_ranks[entry["item"]]))
    taus = [t for t in (kendall_tau_b([a for a, _ in g], [b for _, b in g]) for g in groups.values() if len(g) > 1)
            if t is not None]
    return round(sum(taus) / len(taus), 4) if taus else None
