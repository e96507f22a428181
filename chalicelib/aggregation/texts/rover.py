"""ROVER, word-level fusion of the answers ("rover").

Fiscus, "A post-processing system to yield reduced word error rates: Recognizer Output Voting
Error Reduction (ROVER)", IEEE ASRU 1997. Model: every answer is a noisy copy of the true word
sequence; after aligning all answers into one word transition network (a sequence of slots,
each holding one word or nothing per answer), the true word of each slot is the one with the
most votes. Here the answers are aligned one at a time onto the network by word-level dynamic
programming (substitution free when the word is already in the slot), starting from the
reliability-weighted medoid (:mod:`.weighted_medoid`) and continuing in decreasing order of
support, and every vote weighs its worker's reliability (from the weighted medoid), so a slot
keeps a word only when more reliable weight supports it than supports "no word". Words are
compared case-folded without punctuation; the output keeps the surface form of the most
reliable worker who wrote the winning word, and is the skeleton answer exactly as written
(punctuation included) when fusion changed none of its words.
"""
from __future__ import annotations

import numpy as np

from .._kinds import KindAnswer, KindResult, TaskOutcome
from ._words import agreement, texts_from, words
from .weighted_medoid import select

SUMMARY = "ROVER word-level voting over an alignment network, reliability-weighted (Fiscus 1997)"


def _surface_words(text: str) -> list[str]:
    """The answer's words as written (same split as the comparison keys)."""
    import re

    return re.findall(r"[\w']+", text, flags=re.UNICODE)


def align(network: list[dict], hypothesis: list[str], index: int) -> list[dict]:
    """Align one hypothesis (comparison keys) onto the network; each slot maps answer index
    -> key (absent = no word). Returns the new network."""
    n, m = len(network), len(hypothesis)
    slot_words = [set(slot.values()) for slot in network]
    miss_array = np.array([[word not in slot for word in hypothesis] for slot in slot_words],
                          dtype=float).reshape(n, m)
    # One vectorised step per slot: substitution/deletion from the row above, then insertions
    # as a running minimum along the row (cost[j] = min over k <= j of cost'[k] + j - k).
    columns = np.arange(m + 1, dtype=float)
    table = np.empty((n + 1, m + 1))
    table[0] = columns
    for i in range(1, n + 1):
        above = table[i - 1]
        row = np.empty(m + 1)
        row[0] = i
        row[1:] = np.minimum(above[:-1] + miss_array[i - 1], above[1:] + 1.0)
        table[i] = np.minimum.accumulate(row - columns) + columns
    cost, miss = table.tolist(), miss_array.tolist()  # the traceback reads single cells
    merged: list[dict] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + miss[i - 1][j - 1]:
            merged.append({**network[i - 1], index: hypothesis[j - 1]})
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1.0:
            merged.append(dict(network[i - 1]))
            i -= 1
        else:
            merged.append({index: hypothesis[j - 1]})
            j -= 1
    merged.reverse()
    return merged


def fuse(hypotheses: list[list[str]], surfaces: list[list[str]], weights: np.ndarray) -> list[str]:
    """ROVER over hypotheses already in alignment order (the first is the skeleton)."""
    network = [{0: key} for key in hypotheses[0]]
    for index in range(1, len(hypotheses)):
        network = align(network, hypotheses[index], index)
    total = float(weights.sum())
    output = []
    for slot in network:
        votes: dict[str, float] = {}
        for index, key in slot.items():
            votes[key] = votes.get(key, 0.0) + float(weights[index])
        key, weight = max(votes.items(), key=lambda item: (item[1], -len(item[0])))
        if weight > total - sum(votes.values()):  # more weight for the word than for nothing
            writer = max((i for i, k in slot.items() if k == key), key=lambda i: weights[i])
            output.append(surfaces[writer][hypotheses[writer].index(key)]
                          if key in hypotheses[writer] else key)
    return output


def fit(answers: list[KindAnswer], config: dict, known: dict, warm_start: dict | None,
        n_iter: int = 5) -> KindResult:
    texts = texts_from(answers, config, known)
    chosen, reliability = select(texts, n_iter)
    tasks = {}
    for i, task in enumerate(texts.task_ids):
        members = texts.by_task[i]
        if task in texts.known:
            tasks[task] = TaskOutcome(texts.known[task], 1.0, {"agreement": agreement(
                texts, members, texts.ids(texts.known[task]))})
            continue
        weight = reliability[texts.worker[members]]
        # Skeleton first (the weighted medoid), then by weight.
        order = sorted(range(members.size), key=lambda k: (members[k] != chosen[i], -weight[k]))
        keys = [words(texts.text[members[k]]) for k in order]
        surfaces = [_surface_words(texts.text[members[k]]) for k in order]
        surfaces = [s if len(s) == len(k) else k for s, k in zip(surfaces, keys)]
        fused = fuse(keys, surfaces, weight[order])
        # When fusion changes no word of the skeleton, publish it as written (punctuation kept).
        text = texts.text[chosen[i]] if [w.casefold() for w in fused] == keys[0] else " ".join(fused)
        share = agreement(texts, members, texts.ids(text))
        tasks[task] = TaskOutcome(text, share, {"agreement": share})
    workers = {w: float(r) for w, r in zip(texts.worker_ids, reliability)}
    return KindResult("rover", tasks, workers, None, {})
