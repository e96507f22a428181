"""Text normalisation, word tokens and word edit distances shared by the text methods."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from .._kinds import KindAnswer, index_ids, task_ids_with_gold

_WORD = re.compile(r"[\w']+", re.UNICODE)


def normalize(text: str, config: dict) -> str:
    """The project's normalisation (``config["normalize"]``: ``nfc`` and ``whitespace`` on by
    default, ``case`` (case-folding) off, so the published text keeps the worker's case), then
    ``max_length``. Comparison uses :func:`words` on top of it."""
    options = {"nfc": True, "case": False, "whitespace": True, **(config.get("normalize") or {})}
    if options.get("nfc"):
        text = unicodedata.normalize("NFC", text)
    if options.get("whitespace"):
        text = " ".join(text.split())
    if options.get("case"):
        text = text.casefold()
    max_length = config.get("max_length")
    return text[: int(max_length)] if max_length else text


def words(text: str) -> list[str]:
    """Comparison keys: case-folded words, punctuation dropped (apostrophes kept)."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


def edit_distances(first: list[np.ndarray], second: list[np.ndarray]) -> np.ndarray:
    """Word-level Levenshtein distance of each pair (first[i], second[i]), all pairs at once.

    One dynamic-programming row per word of the longer first sequence, vectorised over the
    pairs; within a row, insertions are resolved with a running minimum (D[j] = min over
    i <= j of D'[i] + j - i), so no Python loop runs over the columns.
    """
    pairs = len(first)
    if not pairs:
        return np.zeros(0, dtype=np.int64)
    len_a = np.array([a.size for a in first])
    len_b = np.array([b.size for b in second])
    width = int(len_b.max()) if pairs else 0
    b_pad = np.full((pairs, max(width, 1)), -2, dtype=np.int64)
    for i, b in enumerate(second):
        b_pad[i, : b.size] = b
    a_pad = np.full((pairs, max(int(len_a.max()), 1)), -1, dtype=np.int64)
    for i, a in enumerate(first):
        a_pad[i, : a.size] = a
    columns = np.arange(width + 1)
    row = np.tile(columns, (pairs, 1))
    result = np.where(len_a == 0, len_b, 0)
    for r in range(1, int(len_a.max()) + 1):
        cost = (a_pad[:, r - 1, None] != b_pad[:, :width]).astype(np.int64)
        new = np.empty_like(row)
        new[:, 0] = r
        new[:, 1:] = np.minimum(row[:, 1:] + 1, row[:, :-1] + cost)
        row = np.minimum.accumulate(new - columns, axis=1) + columns
        done = len_a == r
        result[done] = row[done, len_b[done]]
    return result


def normalized_distance_matrix(token_ids: list[np.ndarray]) -> np.ndarray:
    """(m, m) word edit distance over the longer length (0 = same words, 1 = nothing shared)."""
    m = len(token_ids)
    i, j = np.triu_indices(m, k=1)
    distance = edit_distances([token_ids[k] for k in i], [token_ids[k] for k in j])
    longer = np.maximum([token_ids[k].size for k in i], [token_ids[k].size for k in j])
    matrix = np.zeros((m, m))
    matrix[i, j] = matrix[j, i] = np.where(longer > 0, distance / np.maximum(longer, 1), 0.0)
    return matrix


@dataclass
class Texts:
    """Answers grouped by task: indices of answers per task, normalised texts, word ids."""

    task_ids: list
    worker_ids: list
    worker: np.ndarray  # per answer
    text: list[str]  # per answer, normalised
    tokens: list[np.ndarray]  # per answer, word ids
    by_task: list[np.ndarray]  # per task, indices of its answers
    known: dict  # task id -> normalised gold text
    vocabulary: dict

    def ids(self, text: str) -> np.ndarray:
        return np.array([self.vocabulary.setdefault(w, len(self.vocabulary)) for w in words(text)],
                        dtype=np.int64)


def texts_from(answers: list[KindAnswer], config: dict, known: dict) -> Texts:
    for a in answers:
        if not isinstance(a.value, str):
            raise ValueError(f"answer of {a.worker} to {a.task}: {a.value!r} is not a text")
    task, _ = index_ids([a.task for a in answers])
    task_ids = task_ids_with_gold([a.task for a in answers], known)
    worker, worker_ids = index_ids([a.worker for a in answers])
    text = [normalize(a.value, config) for a in answers]
    vocabulary: dict = {}
    tokens = [np.array([vocabulary.setdefault(w, len(vocabulary)) for w in words(t)],
                       dtype=np.int64) for t in text]
    task = np.asarray(task, dtype=np.int64)
    order = np.argsort(task, kind="stable")
    bounds = np.searchsorted(task[order], np.arange(len(task_ids) + 1))
    by_task = [order[bounds[i]:bounds[i + 1]] for i in range(len(task_ids))]
    return Texts(task_ids, worker_ids, np.asarray(worker, dtype=np.int64), text, tokens, by_task,
                 {t: normalize(str(v), config) for t, v in known.items()}, vocabulary)


def agreement(texts: Texts, members: np.ndarray, result_tokens: np.ndarray) -> float:
    """Mean word similarity (1 - normalised edit distance) of a task's answers to its result."""
    if not members.size:
        return 1.0
    distance = edit_distances([texts.tokens[k] for k in members], [result_tokens] * members.size)
    longer = np.maximum([texts.tokens[k].size for k in members], result_tokens.size)
    return float(np.mean(1.0 - np.where(longer > 0, distance / np.maximum(longer, 1), 0.0)))
