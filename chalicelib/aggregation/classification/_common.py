"""Shared building blocks of the truth-inference methods: votes, posteriors, the EM loop.

Every method sees the crowd answers as an :class:`Answers` bundle (see ``_answers``) and returns
an :class:`AggregationResult`. The confusion-matrix family (Dawid-Skene, one-coin, MACE, IBCC)
shares one EM loop, :func:`run_confusion_em`, which only needs a method specific M-step: given
the expected counts ``counts[w, true, given]`` it returns each worker's log confusion matrix and
the log class prior.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# Re-exported so that the method modules import everything shared from one place.
from ._answers import UNKNOWN, AggregationResult, Answers, prepare_answers  # noqa: F401


# --- posteriors -------------------------------------------------------------------------------


def clamp_known(posterior: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Overwrite (in place) the rows of gold tasks with the one-hot known label."""
    rows = np.flatnonzero(known != UNKNOWN)
    if rows.size:
        posterior[rows] = 0.0
        posterior[rows, known[rows]] = 1.0
    return posterior


def label_frequencies(answers: Answers) -> np.ndarray:
    """Smoothed share of each label among the answers (add-one): the data-driven class prior."""
    counts = np.bincount(answers.labels, weights=answers.weights, minlength=answers.n_labels)
    return (counts + 1.0) / (counts.sum() + answers.n_labels)


def vote_posterior(answers: Answers, worker_weight: np.ndarray | None = None) -> np.ndarray:
    """Normalised (weighted) vote shares per task; tasks without answers get the label shares.

    Returned as an ``(n_tasks, n_labels)`` view of a label-major array (see normalize_log).
    """
    weights = answers.weights
    if worker_weight is not None:
        weights = weights * worker_weight[answers.workers]
    flat = answers.labels * answers.n_tasks + answers.tasks
    votes = np.bincount(flat, weights=weights, minlength=answers.n_tasks * answers.n_labels)
    votes = votes.reshape(answers.n_labels, answers.n_tasks)
    totals = votes.sum(axis=0)
    prior = label_frequencies(answers)[:, None]
    posterior = np.where(totals > 0, votes / np.where(totals > 0, totals, 1.0), prior)
    return clamp_known(posterior.T, answers.known)


def hard_labels(posterior: np.ndarray) -> np.ndarray:
    """Argmax per row, ties to the lowest label index (a later label must be strictly larger).

    One pass per label column rather than np.argmax along the short row axis, which is several
    times slower on a million tasks (and copies a label-major array first).
    """
    labels = np.zeros(posterior.shape[0], dtype=np.int64)
    if posterior.shape[1] == 0:
        return labels
    best = posterior[:, 0].copy()
    for label in range(1, posterior.shape[1]):
        column = posterior[:, label]
        larger = column > best
        labels[larger] = label
        np.maximum(best, column, out=best)
    return labels


def agreement_reliability(answers: Answers, reference: np.ndarray) -> np.ndarray:
    """Smoothed share of each worker's answers equal to ``reference`` labels: (agree+0.5)/(n+1)."""
    agree = (answers.labels == reference[answers.tasks]) * answers.weights
    hits = np.bincount(answers.workers, weights=agree, minlength=answers.n_workers)
    totals = np.bincount(answers.workers, weights=answers.weights, minlength=answers.n_workers)
    return (hits + 0.5) / (totals + 1.0)


def make_result(answers: Answers, posterior: np.ndarray, reliability: np.ndarray, *,
                method: str, confusion: np.ndarray | None = None, iterations: int = 0,
                log_likelihood: float | None = None, params: dict | None = None
                ) -> AggregationResult:
    posterior = np.ascontiguousarray(posterior, dtype=np.float64)
    labels = hard_labels(posterior)
    confidence = posterior[np.arange(answers.n_tasks), labels] if answers.n_tasks else np.zeros(0)
    return AggregationResult(
        posterior=posterior,
        labels=labels,
        confidence=confidence,
        worker_reliability=np.asarray(reliability, dtype=np.float64),
        worker_confusion=confusion,
        iterations=int(iterations),
        log_likelihood=None if log_likelihood is None else float(log_likelihood),
        method=method,
        params=params or {},
    )


def sum_last_axis(array: np.ndarray) -> np.ndarray:
    """``array.sum(axis=-1, keepdims=True)``, about 10x faster when the last axis is short.

    numpy reduces a short contiguous axis row by row; adding whole columns is vectorised.
    Every EM step reduces over the label axis, so this matters for large crowds.
    """
    total = array[..., 0].copy(order="K")  # same memory order as `array`: fast broadcasting
    for index in range(1, array.shape[-1]):
        total += array[..., index]
    return total[..., None]


def normalize_log(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax over labels of label-major log joint probabilities ``(n_labels, n_tasks)``.

    Returns the float64 posterior in the same layout and each task's log normaliser.
    Label-major because every reduction then runs over whole contiguous rows (numpy is slow on
    a short last axis); a task-major ``(n_tasks, n_labels)`` array can be passed as ``array.T``.
    The exponentials are taken in float32: numpy vectorises float32 exp with AVX2 but float64
    exp only with AVX-512, a 4x difference on most machines, and this runs on every EM step.
    Relative error < 1e-7 per entry; shifted arguments are <= 0, so nothing overflows and only
    probabilities below 1e-38 flush to zero. Totals and the division are float64.
    """
    if log_joint.shape[0] == 0:
        return log_joint.copy(), np.zeros(log_joint.shape[1])
    row_max = log_joint.max(axis=0)
    shifted = np.subtract(log_joint, row_max)
    unnormalised = np.exp(shifted, dtype=np.float32)
    totals = unnormalised.sum(axis=0, dtype=np.float64)
    posterior = np.divide(unnormalised, totals, out=shifted)  # reuse the float64 buffer
    return posterior, np.log(totals) + row_max


def result_from_confusion_em(answers: Answers, outcome, method: str) -> AggregationResult:
    """The result of a confusion-matrix EM run: labels, reliability, confusion matrices, and
    the parameters a next run can warm-start from."""
    # float64 and renormalised: an M-step may hand over float32 logarithms (see ds).
    confusion = np.exp(outcome.log_confusion.astype(np.float64))
    confusion /= confusion.sum(axis=2, keepdims=True)
    class_prior = np.exp(outcome.log_class_prior)
    return make_result(
        answers, outcome.posterior, reliability_from_confusion(confusion, class_prior),
        method=method, confusion=confusion, iterations=outcome.iterations,
        log_likelihood=outcome.log_likelihood,
        params={"confusion": confusion, "class_prior": class_prior},
    )


def digamma(x) -> np.ndarray:
    """The digamma function for positive arguments (scipy.special.digamma to ~1e-11).

    The recurrence psi(x) = psi(x + 1) - 1/x lifts every argument to x >= 6, where the
    asymptotic series below is accurate to better than 1e-12 (Abramowitz & Stegun 6.3.18).
    """
    x = np.array(x, dtype=float, copy=True)
    result = np.zeros_like(x)
    for _ in range(6):
        small = x < 6
        if not small.any():
            break
        result[small] -= 1.0 / x[small]
        x[small] += 1.0
    inv2 = 1.0 / (x * x)
    series = inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 * (1 / 240 - inv2 / 132))))
    return result + np.log(x) - 0.5 / x - series


# --- the confusion-matrix EM family -----------------------------------------------------------


def expected_counts(answers: Answers, posterior: np.ndarray) -> np.ndarray:
    """counts[w, true, given] = sum over w's answers `given` of P(task's truth = true).

    ``posterior`` is label-major ``(n_labels, n_tasks)``. The result is a view whose memory is
    laid out ``[true, w, given]``, the layout :func:`log_joint_from_confusion` gathers from, so
    an M-step's element-wise arithmetic hands its table to the E-step without a copy. Each
    task's posterior sums to one, so the last true label's counts are the answers per
    (worker, given) minus the others': one scatter pass fewer (half the work with 2 labels).
    """
    k, order = answers.n_labels, answers.by_task
    n_columns = answers.n_workers * k
    counts = np.empty((k, n_columns))
    counts[k - 1] = order.answers_per_worker_label
    if k > 1:
        # Each answer's task posterior; sequential reads, as the answers are sorted by task.
        per_answer = np.take(posterior[: k - 1], order.task, axis=1, mode="clip",  # valid indices
                             out=order.buffer("posterior", k - 1, np.float64))
        if order.weights is not None:
            per_answer *= order.weights
        for true in range(k - 1):
            counts[true] = np.bincount(order.worker_label, weights=per_answer[true],
                                       minlength=n_columns)
            counts[k - 1] -= counts[true]
        np.maximum(counts[k - 1], 0.0, out=counts[k - 1])  # rounding can leave -1e-16
    return counts.reshape(k, answers.n_workers, k).transpose(1, 0, 2)


def log_joint_from_confusion(answers: Answers, log_confusion: np.ndarray,
                             log_class_prior: np.ndarray) -> np.ndarray:
    """log P(truth = k, answers of task t), label-major ``(n_labels, n_tasks)``."""
    k, order = answers.n_labels, answers.by_task
    # table[true, w * k + given] in float32: the gather and the per-task sums are bound by
    # memory traffic, which half-width entries halve. A float32 log probability is off by
    # < 1e-7 relative and a task's sum of a few dozen of them by < 1e-5 nats: posteriors
    # move by ~1e-5 relative, far below anything that changes a label, and the stopping rule
    # (objective change per answer < tol = 1e-5, summed over all answers) is not disturbed.
    # The result is float64 again, as is everything downstream.
    table = np.ascontiguousarray(log_confusion.transpose(1, 0, 2), dtype=np.float32)
    table = table.reshape(k, -1)  # no copy when the M-step kept expected_counts' layout
    per_answer = np.take(table, order.worker_label, axis=1, mode="clip",  # one gather, all labels
                         out=order.buffer("log_confusion", k, np.float32))
    if order.weights is not None:
        per_answer *= order.weights
    log_joint = np.zeros((k, answers.n_tasks))
    if order.answered_tasks is None:
        if per_answer.shape[1]:
            log_joint[:] = np.add.reduceat(per_answer, order.segment_starts, axis=1)
    elif order.answered_tasks.size:
        log_joint[:, order.answered_tasks] = np.add.reduceat(per_answer, order.segment_starts,
                                                             axis=1)
    log_joint += log_class_prior[:, None]
    return log_joint


def observed_log_likelihood(answers: Answers, log_joint: np.ndarray, log_norm: np.ndarray) -> float:
    """log P(answers, known labels): gold tasks contribute their known label's joint only.

    ``log_joint`` is label-major ``(n_labels, n_tasks)``."""
    rows = np.flatnonzero(answers.known_mask)
    total = float(log_norm.sum())
    if rows.size:
        total += float((log_joint[answers.known[rows], rows] - log_norm[rows]).sum())
    return total


def converged(objective: float, previous: float, n_answers: int, tol: float) -> bool:
    """Stop when the objective per answer moved by less than ``tol``.

    The rule of crowd-kit 1.4.2's DawidSkene (``n_iter=100, tol=1e-5``), so "same tol"
    comparisons mean the same thing: it stops when its evidence lower bound divided by the
    number of answers rises by less than ``tol`` (``new - old < tol``, so a fall stops it too);
    ours is the log-likelihood plus log prior per answer, which MAP-EM never lowers, so the
    absolute change is the same test.
    """
    return abs(objective - previous) <= tol * max(n_answers, 1)


# An M-step receives (counts[w, true, given], posterior) and returns
# (log_confusion[w, true, given], log_class_prior[k], log_prior_of_parameters).
MStep = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, float]]


@dataclass
class EMOutcome:
    posterior: np.ndarray
    log_confusion: np.ndarray
    log_class_prior: np.ndarray
    log_likelihood: float
    iterations: int


def run_confusion_em(answers: Answers, initial_posterior: np.ndarray, m_step: MStep, *,
                     n_iter: int, tol: float) -> EMOutcome:
    """Alternate M- and E-steps until the objective per answer changes by less than ``tol``.

    The objective is the observed-data log-likelihood plus the log prior of the parameters
    (what MAP-EM increases monotonically). Gold tasks stay clamped to their known label, so
    they anchor the worker parameters (semi-supervised EM). The posterior is kept label-major
    inside the loop (see :func:`normalize_log`); M-steps see it as ``(n_tasks, n_labels)``.
    """
    posterior = np.ascontiguousarray(initial_posterior.T)
    clamp_known(posterior.T, answers.known)
    previous = -np.inf
    log_likelihood = 0.0
    iterations = 0
    for iterations in range(1, max(int(n_iter), 1) + 1):
        log_confusion, log_class_prior, log_param_prior = m_step(
            expected_counts(answers, posterior), posterior.T
        )
        log_joint = log_joint_from_confusion(answers, log_confusion, log_class_prior)
        posterior, log_norm = normalize_log(log_joint)
        clamp_known(posterior.T, answers.known)
        log_likelihood = observed_log_likelihood(answers, log_joint, log_norm)
        objective = log_likelihood + log_param_prior
        if converged(objective, previous, answers.n_answers, tol):
            break
        previous = objective
    return EMOutcome(posterior.T, log_confusion, log_class_prior, log_likelihood, iterations)


def class_prior_update(answers: Answers, posterior: np.ndarray, pseudo_count: float = 1.0
                       ) -> tuple[np.ndarray, float]:
    """MAP class prior from the posteriors of answered or gold tasks (Dirichlet smoothing).

    Returns log prior and the Dirichlet log-density term (up to a constant) for the objective.
    """
    rows = answers.informative_rows
    totals = (posterior if rows is None else posterior[rows]).sum(axis=0) + pseudo_count
    log_prior = np.log(totals / totals.sum())
    return log_prior, float(pseudo_count * log_prior.sum())


def sum_over_workers(table: np.ndarray) -> np.ndarray:
    """``table.sum(axis=0)`` of a ``(n_workers, n_labels, n_labels)`` table, whatever its memory
    layout; einsum is several times faster than numpy's reduction over a long middle axis."""
    return np.einsum("wkl->kl", table, dtype=np.float64)


def reliability_from_confusion(confusion: np.ndarray, class_prior: np.ndarray) -> np.ndarray:
    """P(answer correct) = sum_k P(truth = k) * confusion[w, k, k]."""
    diagonal = np.diagonal(confusion, axis1=1, axis2=2)
    return (diagonal * class_prior).sum(axis=1)  # not `@`: BLAS threads would spin for nothing


def confusion_from_warm_start(warm_start: dict | None, answers: Answers) -> tuple[
        np.ndarray, np.ndarray] | None:
    """Previous run's (confusion, class_prior) resized to the current workers, or None.

    Workers that joined since the previous run start from the average confusion matrix; a
    warm start with a different number of labels is ignored.
    """
    if not warm_start or "confusion" not in warm_start or "class_prior" not in warm_start:
        return None
    confusion = np.asarray(warm_start["confusion"], dtype=np.float64)
    class_prior = np.asarray(warm_start["class_prior"], dtype=np.float64)
    k = answers.n_labels
    if confusion.ndim != 3 or confusion.shape[1:] != (k, k) or class_prior.shape != (k,):
        return None
    if confusion.shape[0] == 0:
        return None
    if confusion.shape[0] < answers.n_workers:
        filler = np.broadcast_to(confusion.mean(axis=0),
                                 (answers.n_workers - confusion.shape[0], k, k))
        confusion = np.concatenate([confusion, filler])
    confusion = np.clip(confusion[: answers.n_workers], 1e-12, None)
    confusion /= confusion.sum(axis=2, keepdims=True)
    class_prior = np.clip(class_prior, 1e-12, None)
    return confusion, class_prior / class_prior.sum()


def gold_or_agreement_reliability(answers: Answers) -> np.ndarray:
    """Each worker's smoothed accuracy on gold tasks, (correct + 0.5) / (total + 1).

    Workers who answered no gold task get their smoothed agreement with the majority vote
    (computed with the gold tasks clamped) instead.
    """
    majority = hard_labels(vote_posterior(answers))
    agreement = agreement_reliability(answers, majority)
    if not answers.known_mask.any():
        return agreement
    on_gold = answers.known_mask[answers.tasks]
    gold_correct = (answers.labels == answers.known[answers.tasks]) & on_gold
    correct = np.bincount(answers.workers, weights=gold_correct * answers.weights,
                          minlength=answers.n_workers)
    total = np.bincount(answers.workers, weights=on_gold * answers.weights,
                        minlength=answers.n_workers)
    gold_accuracy = (correct + 0.5) / (total + 1.0)
    return np.where(total > 0, gold_accuracy, agreement)


def weighted_vote_posterior(answers: Answers) -> np.ndarray:
    """Votes weighted by gold accuracy (or agreement with the majority): the EM initialiser."""
    return vote_posterior(answers, gold_or_agreement_reliability(answers))


def initial_posterior(answers: Answers, warm_start: dict | None) -> np.ndarray:
    """Warm-start E-step if previous parameters fit, else the gold/agreement-weighted vote."""
    previous = confusion_from_warm_start(warm_start, answers)
    if previous is None:
        return weighted_vote_posterior(answers)
    confusion, class_prior = previous
    log_joint = log_joint_from_confusion(answers, np.log(confusion), np.log(class_prior))
    posterior, _ = normalize_log(log_joint)
    return clamp_known(posterior.T, answers.known)
