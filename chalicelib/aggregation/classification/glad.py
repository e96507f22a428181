"""GLAD, Generative model of Labels, Abilities and Difficulties ("glad").

Whitehill, Ruvolo, Wu, Bergsma & Movellan, "Whose Vote Should Count More: Optimal Integration of
Labels from Labelers of Unknown Expertise", NeurIPS 2009. Model: worker ``w`` has ability
``alpha_w`` (any real; negative means adversarial), task ``t`` has inverse difficulty ``beta_t =
exp(b_t) > 0``; an answer is correct with probability ``sigmoid(alpha_w * beta_t)`` and
otherwise one of the other ``K - 1`` labels uniformly. Truths are uniform a priori, as in the
paper and crowd-kit (``learn_class_prior=True`` estimates the class prior instead: on the
imbalanced product data that costs 3 points, because GLAD's symmetric errors then explain away
the minority class). Priors as in crowd-kit: ``alpha ~ N(1, 1)``, ``b ~ N(1, 1)``. EM: the
E-step is exact; the M-step takes ``m_step_newton`` Fisher-scoring steps, alternating abilities
and difficulties (the objective separates per worker given the difficulties and per task given
the abilities, so each block update is a vector of independent 1-D steps, clipped to +-2 for
safety). Gold tasks stay clamped. Reliability = the worker's average P(correct) over the tasks
they answered.
"""
from __future__ import annotations

import numpy as np

from ._common import AggregationResult, Answers, class_prior_update, clamp_known, converged
from ._common import make_result, normalize_log, observed_log_likelihood, weighted_vote_posterior

SUMMARY = "GLAD: worker ability x task difficulty logistic model"

ABILITY_MEAN, ABILITY_VAR, LOG_DIFFICULTY_MEAN, LOG_DIFFICULTY_VAR = 1.0, 1.0, 1.0, 1.0
MAX_STEP = 2.0


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def fit(answers: Answers, warm_start: dict | None = None, *, n_iter: int = 100,
        tol: float = 1e-5, m_step_newton: int = 2, learn_class_prior: bool = False,
        class_pseudo_count: float = 1.0) -> AggregationResult:
    tasks, workers, labels = answers.tasks, answers.workers, answers.labels
    weights = answers.weights
    k, n_tasks, n_workers = answers.n_labels, answers.n_tasks, answers.n_workers
    uniform_prior = np.full(k, -np.log(max(k, 1)))
    ability, log_difficulty, warm = _initial_parameters(answers, warm_start)
    if warm:
        posterior = _e_step(answers, ability, log_difficulty, uniform_prior)[0]
    else:
        posterior = clamp_known(weighted_vote_posterior(answers), answers.known)

    previous, log_likelihood, iterations = -np.inf, 0.0, 0
    for iterations in range(1, max(int(n_iter), 1) + 1):
        # M-step: P(answer equals truth) under the current posterior, then Fisher scoring.
        agreement = posterior[tasks, labels] if tasks.size else np.zeros(0)
        for _ in range(m_step_newton):
            inverse_difficulty = np.exp(log_difficulty)
            ability = _scoring_step(
                ability, workers, n_workers, agreement, weights,
                slope=inverse_difficulty[tasks], logit=ability[workers] * inverse_difficulty[tasks],
                prior_mean=ABILITY_MEAN, prior_var=ABILITY_VAR)
            inverse_difficulty = np.exp(log_difficulty)
            logit = ability[workers] * inverse_difficulty[tasks]
            log_difficulty = _scoring_step(
                log_difficulty, tasks, n_tasks, agreement, weights, slope=logit, logit=logit,
                prior_mean=LOG_DIFFICULTY_MEAN, prior_var=LOG_DIFFICULTY_VAR)
        if learn_class_prior:
            log_class_prior, class_term = class_prior_update(answers, posterior,
                                                             class_pseudo_count)
        else:
            log_class_prior, class_term = uniform_prior, 0.0

        posterior, log_likelihood = _e_step(answers, ability, log_difficulty, log_class_prior)
        objective = (log_likelihood + class_term
                     - ((ability - ABILITY_MEAN) ** 2).sum() / (2 * ABILITY_VAR)
                     - ((log_difficulty - LOG_DIFFICULTY_MEAN) ** 2).sum()
                     / (2 * LOG_DIFFICULTY_VAR))
        if converged(objective, previous, answers.n_answers, tol):
            break
        previous = objective

    correct_probability = np.exp(log_sigmoid(ability[workers] * np.exp(log_difficulty)[tasks]))
    answered = np.bincount(workers, weights=weights, minlength=n_workers)
    mean_correct = np.bincount(workers, weights=weights * correct_probability,
                               minlength=n_workers) / np.maximum(answered, 1e-12)
    reliability = np.where(answered > 0, mean_correct, np.exp(log_sigmoid(ability)))
    if k == 1:
        reliability = np.ones(n_workers)
    return make_result(
        answers, posterior, reliability, method="glad", iterations=iterations,
        log_likelihood=log_likelihood,
        params={"ability": ability, "log_difficulty": log_difficulty},
    )


def _e_step(answers: Answers, ability: np.ndarray, log_difficulty: np.ndarray,
            log_class_prior: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact posterior of every task's truth and the observed-data log-likelihood.

    log P(truth = k, answers) = log prior[k] + sum(log P(answer wrong)) + sum over answers
    equal to k of log(P(correct) / P(that wrong answer)).
    """
    tasks, labels, weights = answers.tasks, answers.labels, answers.weights
    n_tasks, k = answers.n_tasks, answers.n_labels
    logit = ability[answers.workers] * np.exp(log_difficulty)[tasks]
    log_correct = log_sigmoid(logit)
    log_wrong = log_sigmoid(-logit) - np.log(max(k - 1, 1))
    all_wrong = np.bincount(tasks, weights=weights * log_wrong, minlength=n_tasks)
    bonus = np.bincount(tasks * k + labels, weights=weights * (log_correct - log_wrong),
                        minlength=n_tasks * k).reshape(n_tasks, k)
    log_joint = (bonus + all_wrong[:, None] + log_class_prior).T  # label-major view
    posterior, log_norm = normalize_log(log_joint)
    clamp_known(posterior.T, answers.known)
    return posterior.T, observed_log_likelihood(answers, log_joint, log_norm)


def _initial_parameters(answers: Answers, warm_start: dict | None):
    """(ability, log_difficulty, whether they came from a warm start)."""
    ability = np.full(answers.n_workers, ABILITY_MEAN)
    log_difficulty = np.full(answers.n_tasks, LOG_DIFFICULTY_MEAN)
    warm = bool(warm_start and "ability" in warm_start and "log_difficulty" in warm_start)
    if warm:
        previous_ability = np.asarray(warm_start["ability"], dtype=np.float64).ravel()
        previous_difficulty = np.asarray(warm_start["log_difficulty"], dtype=np.float64).ravel()
        # Ids are append-only, so index i still means the same worker / task.
        n = min(previous_ability.size, answers.n_workers)
        ability[:n] = previous_ability[:n]
        n = min(previous_difficulty.size, answers.n_tasks)
        log_difficulty[:n] = previous_difficulty[:n]
    return ability, log_difficulty, warm


def _scoring_step(value: np.ndarray, owner: np.ndarray, n_owners: int, agreement: np.ndarray,
                  weights: np.ndarray, slope: np.ndarray, logit: np.ndarray, prior_mean: float,
                  prior_var: float) -> np.ndarray:
    """One Fisher-scoring step on each entry of ``value`` (per worker or per task).

    The expected complete log-likelihood of an answer is q*log(s) + (1-q)*log(1-s) with
    s = sigmoid(logit), whose derivative in the logit is q - s; ``slope`` is d logit/d value.
    """
    correct = np.exp(log_sigmoid(logit))
    gradient = np.bincount(owner, weights=weights * (agreement - correct) * slope,
                           minlength=n_owners) - (value - prior_mean) / prior_var
    information = np.bincount(owner, weights=weights * correct * (1 - correct) * slope ** 2,
                              minlength=n_owners) + 1.0 / prior_var
    return value + np.clip(gradient / information, -MAX_STEP, MAX_STEP)
