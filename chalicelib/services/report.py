"""A run's report: report.html, one self-contained page for the people who decide from the results.

Published with the run's other files (services.publishing), in the requester's language (the
project's `report.language`, English or French). From the top: a plain-language summary; progress
and money; the distribution of the results and of their confidence; the tasks most in doubt;
the results by subject (per payload field named in `report.group_by`); quality (gold accuracy,
agreement, the manifest's calibration); the crowd, by the requester's pseudonyms only.

The page opens offline: its styles, its data and its charting library (Apache ECharts, pinned in
package.json, copied next to the template by `make assets`) are inside it. The tables and
figures are written here in HTML, every requester-supplied string (title, labels, payload
values, field names) escaped; the charts are ECharts options in a JSON block whose `<`, `>`
and `&` are escaped, drawn on a canvas (no HTML from the data reaches the page).
The work is a few passes over the run's numpy columns and one over its result rows.
"""
import heapq
import html
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from chalicelib.services import counters, projects
from chalicelib.services.report_text import KINDS, LANGUAGES, STRINGS, decimal, integer, money, percent

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE = TEMPLATES / "report.html"
CHART_LIBRARY = TEMPLATES / "echarts.min.js"  # `make assets`
DOUBT_ROWS = 20
DOUBT_THRESHOLD = 0.7  # "in doubt" in the summary
MAX_BARS = 30  # categories drawn per chart (the rest summed as "other")
MAX_GROUPS = 30
BINS = 20
MAX_TEXT = 80  # characters of a payload value or answer shown in a table cell
HOUR_MS, DAY_MS = 3_600_000, 86_400_000


def settings_of(project) -> tuple[str, list[str]]:
    """The project's report settings: its language and the payload fields to group by."""
    report = project.report or {}
    language = report.get("language") if report.get("language") in LANGUAGES else "en"
    return language, list(report.get("group_by") or [])


def render(project, *, run_id: str, created_iso: str, method: str, answers, rows: Iterable[dict],
           worker_rows: list[dict], answer_values: list, agrees: np.ndarray, calibration: dict | None = None,
           ranking: list[dict] | None = None) -> Iterator[bytes]:
    """report.html as chunks of bytes (one), rendered when the publisher reads it.
    `answers`: the run's AnswerColumns; `rows`: its result rows (results.jsonl's); `answer_values`:
    what answers.label indexes; `agrees`: per answer, whether it matches its task's result."""
    language, group_by = settings_of(project)
    page = Page(language)
    tasks = TaskFigures(rows, group_by)
    money_figures = spending(project)
    page.add(summary(page, project, run_id, created_iso, method, answers, tasks, worker_rows, money_figures,
                     calibration))
    page.add(progress(page, project, answers, tasks, money_figures))
    page.add(results(page, tasks, ranking))
    page.add(doubt(page, tasks, answers, answer_values))
    page.add(subjects(page, tasks, group_by))
    page.add(quality(page, worker_rows, agrees, calibration))
    page.add(crowd(page, worker_rows))
    yield page.html(project.title).encode()


# --- The page ---------------------------------------------------------------------------------------
def esc(value) -> str:
    return html.escape(str(value), quote=True)


def shown(value) -> str:
    """A payload value or an answer as text, cut to MAX_TEXT characters (not yet escaped)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def script_json(document) -> str:
    """JSON safe inside a <script> element: no `<`, `>` or `&` can close it or open a comment."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) \
        .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


class Page:
    def __init__(self, language: str):
        self.language, self.words = language, STRINGS[language]
        self.sections: list[str] = []
        self.charts: dict[str, dict] = {}

    def t(self, key: str, **values) -> str:
        """A sentence of the report, its values escaped."""
        return self.words[key].format(**{k: esc(v) for k, v in values.items()})

    def add(self, section: str) -> None:
        self.sections.append(section)

    def chart(self, option: dict, tall: bool = False) -> str:
        chart_id = f"chart-{len(self.charts)}"
        self.charts[chart_id] = {"animation": False, "tooltip": {"renderMode": "richText", "confine": True},
                                 "aria": {"enabled": True}, **option}
        return f'<div class="chart{" tall" if tall else ""}" id="{chart_id}" role="img"></div>'

    def figures(self, pairs: list[tuple[str, str]]) -> str:
        cells = "".join(f"<div><dt>{esc(self.words[key])}</dt><dd>{esc(value)}</dd></div>" for key, value in pairs)
        return f'<dl class="figures">{cells}</dl>'

    def html(self, title: str) -> str:
        values = {"lang": self.language, "title": esc(f"{title} · {self.words['report']}"),
                  "body": "\n".join(self.sections), "noscript": esc(self.words["noscript"]),
                  "charts": script_json(self.charts), "chart_library": chart_library()}
        # One pass over the template: a value is never scanned for placeholders itself.
        return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], TEMPLATE.read_text())


def chart_library() -> str:
    try:
        return CHART_LIBRARY.read_text()
    except FileNotFoundError:
        raise RuntimeError(f"{CHART_LIBRARY} is missing: run `make assets` (npm ci)") from None


def table(header: list[str], rows: list[list[tuple[str, str]]]) -> str:
    """`header`: escaped cells; `rows`: (css class, escaped text) cells."""
    kinds = [css for css, _ in rows[0]] if rows else [""] * len(header)  # headers aligned as their cells
    head = "".join(f'<th class="{css}">{h}</th>' for css, h in zip(kinds, header))
    body = "".join("<tr>" + "".join(f'<td class="{css}">{text}</td>' for css, text in row) + "</tr>"
                   for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def bars(categories: list[str], values: list, horizontal: bool = True) -> dict:
    """A bar chart: horizontal for named categories (long names read on a phone), vertical for bins."""
    category_axis = {"type": "category", "data": categories, "inverse": horizontal,
                     "axisLabel": {"width": 140, "overflow": "truncate"}}
    value_axis = {"type": "value"}
    return {"grid": {"containLabel": True, "left": 8, "right": 16, "top": 16, "bottom": 8},
            "xAxis": value_axis if horizontal else category_axis, "yAxis": category_axis if horizontal else value_axis,
            "series": [{"type": "bar", "data": values}]}


def histogram(values: np.ndarray, low: float, high: float, language: str, bins: int = BINS) -> dict:
    if high <= low:
        high = low + 1
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    names = [decimal(float(edge), language) for edge in edges[:-1]]
    return bars(names, counts.tolist(), horizontal=False)


def top(counter: Counter, limit: int, other: str) -> list[tuple[str, int]]:
    items = counter.most_common(limit)
    rest = sum(counter.values()) - sum(c for _, c in items)
    return items + ([(other, rest)] if rest else [])


# --- What the run's rows hold -------------------------------------------------------------------------
def answer_key(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


class TaskFigures:
    """One pass over the result rows: what every section needs of them, and nothing per task but
    the confidence (a 100k-task run holds floats, not rows)."""

    def __init__(self, rows: Iterable[dict], group_by: list[str]):
        confidence, gold, results = [], [], Counter()
        numbers, numeric = [], True
        groups = {field: defaultdict(lambda: [Counter(), 0.0]) for field in group_by}
        doubt_heap: list[tuple] = []  # the DOUBT_ROWS lowest-confidence real tasks (max-heap by -confidence)
        for i, row in enumerate(rows):
            value = row["label"] if "label" in row else row["answer"]
            key = answer_key(value)
            confidence.append(row["confidence"])
            gold.append(row["gold"])
            if row["gold"]:
                continue
            results[key] += 1
            if numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
                numbers.append(value)
            else:
                numeric = False
            for field, by_value in groups.items():
                raw = row["payload"].get(field) if isinstance(row["payload"], dict) else None
                entry = by_value[None if raw is None else shown(raw)]
                entry[0][key] += 1
                entry[1] += row["confidence"]
            item = (-row["confidence"], -i, i, row["task_id"], row["payload"], key)
            if len(doubt_heap) < DOUBT_ROWS:
                heapq.heappush(doubt_heap, item)
            elif item > doubt_heap[0]:
                heapq.heapreplace(doubt_heap, item)
        self.confidence = np.array(confidence, dtype=float)
        self.gold = np.array(gold, dtype=bool)
        self.results = results
        self.numbers = np.array(numbers, dtype=float) if numeric and numbers else None
        self.groups = groups
        self.doubt = [item[2:] for item in sorted(doubt_heap, reverse=True)]

    @property
    def real_confidence(self) -> np.ndarray:
        return self.confidence[~self.gold]


def gold_figures(worker_rows: list[dict]) -> tuple[int, float | None]:
    """Answers on gold and their accuracy (None without any), from the run's worker rows."""
    gold_answers = sum(r["gold_answers"] for r in worker_rows)
    gold_correct = sum(r["gold_correct"] for r in worker_rows)
    return gold_answers, gold_correct / gold_answers if gold_answers else None


def spending(project) -> dict:
    """Money and task counts from the project's counters: GET /progress's money figures
    (services.projects.money_progress), and what the pace needs."""
    sums = counters.totals(project.project_id)
    spent = projects.money_progress(project, sums)
    real_tasks = sums["tasks"] - sums["gold_tasks"] - sums["tasks_cancelled"]
    wanted = real_tasks * int(project.overlap)
    return {"paid": spent["paid_cents"], "reserved": spent["budget_reserved_cents"] or 0,
            "budget": spent["budget_cents"], "remaining": spent["budget_remaining_cents"], "tasks": sums["tasks"],
            "complete": sums["tasks_complete"], "open": max(real_tasks - sums["tasks_complete"], 0),
            "answers_left": max(wanted - (sums["answers"] - sums["gold_answers"]), 0)}


# --- The sections -------------------------------------------------------------------------------------------
def summary(page: Page, project, run_id, created_iso, method, answers, tasks: TaskFigures, worker_rows,
            money_figures, calibration) -> str:
    lang = page.language
    real = tasks.real_confidence
    n_results = len(real)
    median = float(np.median(real)) if n_results else None
    doubtful = int((real < DOUBT_THRESHOLD).sum())
    per_result = (money_figures["paid"] + money_figures["reserved"]) / n_results if n_results else None
    budget = money_figures["budget"]
    _, gold_accuracy = gold_figures(worker_rows)
    kind = project.answer_type.get("kind", "single_choice")
    look = []
    if doubtful:
        look.append(page.t("look_doubt", count=integer(min(doubtful, DOUBT_ROWS), lang)))
    if gold_accuracy is not None and gold_accuracy < 0.8:
        look.append(page.t("look_gold", accuracy=percent(gold_accuracy, lang)))
    ece = (calibration or {}).get("ece")
    if ece is not None and ece > 0.1:
        look.append(page.t("look_ece", ece=percent(ece, lang)))
    look_items = "".join(f"<li>{item}</li>" for item in look) or f"<li>{page.t('look_none')}</li>"
    return (f'<header class="summary"><h1>{esc(project.title)}</h1>'
            f'<p class="meta">{page.t("run", run_id=run_id, created=created_iso, method=method)}</p>'
            f'<h2>{page.t("summary")}</h2>'
            f'<p>{page.t("asked", title=project.title, kind=KINDS[lang].get(kind, kind))}</p>'
            f'<p>{page.t("results", results=integer(n_results, lang), answers=integer(len(answers.task), lang), workers=integer(len(answers.worker_ids), lang), tasks=integer(len(tasks.confidence), lang), gold=integer(int(tasks.gold.sum()), lang))}</p>'
            + (f'<p>{page.t("sure", median=percent(median, lang), doubtful=integer(doubtful, lang), threshold=percent(DOUBT_THRESHOLD, lang))}</p>' if n_results else "")
            + f'<p>{page.t("cost", paid=money(money_figures["paid"], lang), reserved=money(money_figures["reserved"], lang), budget=page.words["of_budget"].format(budget=money(budget, lang)) if budget is not None else "", per_result=money(per_result, lang))}</p>'
            f'<div class="look"><strong>{page.t("look")}</strong><ul>{look_items}</ul></div></header>')


def progress(page: Page, project, answers, tasks: TaskFigures, m: dict) -> str:
    lang, w = page.language, page.words
    submitted = answers.submitted_at
    chart, pace, eta = "", None, w["unknown"]
    if len(submitted):
        start, end = int(submitted.min()), int(submitted.max())
        bucket = HOUR_MS if end - start <= 14 * DAY_MS else DAY_MS
        edges = (submitted - start) // bucket
        n_buckets = int(edges.max()) + 1
        per_bucket = np.bincount(edges, minlength=n_buckets)
        # A task is done at its last answer once it has its overlap (adaptive overlap: its minimum).
        counts = np.bincount(answers.task, minlength=len(answers.task_ids))
        last = np.zeros(len(answers.task_ids), dtype=np.int64)
        np.maximum.at(last, answers.task, submitted)
        wanted = int((project.adaptive_overlap or {}).get("min_overlap") or project.overlap)
        done = np.bincount((last[counts >= wanted] - start) // bucket, minlength=n_buckets).cumsum()
        when = "%d/%m %Hh" if lang == "fr" else "%m-%d %H:00"
        names = [np.datetime64(start + i * bucket, "ms").astype(object).strftime(when) for i in range(n_buckets)]
        recent = submitted >= end - DAY_MS
        hours = max((end - max(start, end - DAY_MS)) / HOUR_MS, 1.0)
        pace = float(recent.sum()) / hours
        if m["answers_left"] == 0:
            eta = w["hours"].format(n=0)
        elif pace > 0:
            left = m["answers_left"] / pace
            eta = w["hours"].format(n=decimal(left, lang, 1)) if left < 48 else w["days"].format(n=decimal(left / 24, lang, 1))
        chart = f"<h3>{esc(w['c_pace'].format(bucket=w['hour' if bucket == HOUR_MS else 'day']))}</h3>" + page.chart({
            "grid": {"containLabel": True, "left": 8, "right": 8, "top": 40, "bottom": 8},
            "legend": {"top": 0}, "xAxis": {"type": "category", "data": names},
            "yAxis": [{"type": "value"}, {"type": "value"}],
            "series": [{"type": "bar", "name": w["s_answers"], "data": per_bucket.tolist()},
                       {"type": "line", "name": w["s_done"], "yAxisIndex": 1, "data": done.tolist(),
                        "showSymbol": n_buckets < 30}]})
    n_results = len(tasks.real_confidence)
    per_result = (m["paid"] + m["reserved"]) / n_results if n_results else None
    figures = page.figures([
        ("f_answers", integer(len(answers.task), lang)), ("f_tasks", integer(m["tasks"], lang)),
        ("f_complete", integer(m["complete"], lang)), ("f_open", integer(m["open"], lang)),
        ("f_pace", decimal(pace, lang, 1) if pace is not None else w["unknown"]), ("f_eta", eta),
        ("f_paid", money(m["paid"], lang)), ("f_reserved", money(m["reserved"], lang)),
        ("f_budget", money(m["budget"], lang) if m["budget"] is not None else w["unlimited"]),
        ("f_remaining", money(m["remaining"], lang) if m["remaining"] is not None else w["unlimited"]),
        ("f_per_result", money(per_result, lang))])
    return (f'<section><h2>{page.t("progress")}</h2>{figures}<p class="note">{page.t("money_note")}</p>'
            f"{chart}</section>")


def results(page: Page, tasks: TaskFigures, ranking: list[dict] | None) -> str:
    lang, w = page.language, page.words
    parts = [f'<section><h2>{page.t("distribution")}</h2>']
    if ranking:
        shown_items = ranking[:MAX_BARS]
        parts.append(f"<h3>{page.t('c_ranking')}</h3>" + page.chart(
            bars([shown(r["item"]) for r in shown_items], [r["score"] for r in shown_items]), tall=True))
    elif tasks.numbers is not None and len(tasks.numbers):
        parts.append(f"<h3>{page.t('c_numbers')}</h3>" + page.chart(
            histogram(tasks.numbers, float(tasks.numbers.min()), float(tasks.numbers.max()), lang)))
    elif tasks.results:
        items = top(tasks.results, MAX_BARS, w["other"])
        parts.append(f"<h3>{page.t('c_labels')}</h3>" + page.chart(
            bars([shown(k) for k, _ in items], [c for _, c in items]), tall=len(items) > 8))
    if len(tasks.real_confidence):
        parts.append(f"<h3>{page.t('c_confidence')}</h3>" + page.chart(histogram(tasks.real_confidence, 0, 1, lang)))
    parts.append("</section>")
    return "".join(parts)


def doubt(page: Page, tasks: TaskFigures, answers, answer_values: list) -> str:
    lang = page.language
    if not tasks.doubt:
        return ""
    # The answers each of these tasks got: one pass over the run's columns.
    wanted = np.array([i for i, *_ in tasks.doubt], dtype=np.int64)
    picked = np.isin(answers.task, wanted)
    given: dict[int, Counter] = defaultdict(Counter)
    for t, y in zip(answers.task[picked].tolist(), answers.label[picked].tolist()):
        given[t][answer_key(answer_values[y])] += 1
    rows = []
    for i, task_id, payload, key in tasks.doubt:
        fields = list(payload.items())[:3] if isinstance(payload, dict) else []
        payload_text = "; ".join(f"{shown(k)}: {shown(v)}" for k, v in fields)
        given_text = ", ".join(f"{shown(k)} ×{c}" for k, c in given[i].most_common(5))
        rows.append([("text", esc(task_id)), ("text", esc(payload_text)), ("text", esc(shown(key))),
                     ("num", esc(percent(float(tasks.confidence[i]), lang))), ("text", esc(given_text))])
    header = [page.t(k) for k in ("t_task", "t_payload", "t_answer", "t_confidence", "t_given")]
    return (f'<section><h2>{page.t("doubt")}</h2><p class="note">{page.t("doubt_note", count=len(rows))}</p>'
            f"{table(header, rows)}</section>")


def subjects(page: Page, tasks: TaskFigures, group_by: list[str]) -> str:
    lang, w = page.language, page.words
    if not group_by:
        return f'<section><h2>{page.t("subjects")}</h2><p class="note">{page.t("subjects_none")}</p></section>'
    answers_shown = [k for k, _ in tasks.results.most_common(8)]  # the columns: the most frequent results
    parts = [f'<section><h2>{page.t("subjects")}</h2>']
    for field in group_by:
        by_value = tasks.groups[field]
        ordered = sorted(by_value.items(), key=lambda item: -sum(item[1][0].values()))
        kept, rest = ordered[:MAX_GROUPS], ordered[MAX_GROUPS:]
        if rest:  # the long tail summed in one row
            other = [Counter(), 0.0]
            for _, (counts, confidence_sum) in rest:
                other[0].update(counts)
                other[1] += confidence_sum
            kept.append((w["other"], other))
        names = [w["missing"] if value is None else value for value, _ in kept]
        rows = []
        for name, (_, (counts, confidence_sum)) in zip(names, kept):
            n = sum(counts.values())
            rows.append([("text", esc(name)), ("num", esc(integer(n, lang))),
                         ("num", esc(percent(confidence_sum / n if n else None, lang))),
                         *[("num", esc(percent(counts[a] / n if n else None, lang))) for a in answers_shown]])
        header = [page.t("t_group"), page.t("t_tasks"), page.t("t_mean_confidence"), *[esc(shown(a)) for a in answers_shown]]
        option = {"grid": {"containLabel": True, "left": 8, "right": 16, "top": 40, "bottom": 8},
                  "legend": {"top": 0, "type": "scroll"},
                  "xAxis": {"type": "value"},
                  "yAxis": {"type": "category", "data": names, "inverse": True,
                            "axisLabel": {"width": 140, "overflow": "truncate"}},
                  "series": [{"type": "bar", "stack": "results", "name": shown(a),
                              "data": [counts[a] for counts, _ in (entry for _, entry in kept)]}
                             for a in answers_shown]}
        parts.append(f"<h3>{page.t('by', field=field)}</h3>{table(header, rows)}"
                     + page.chart(option, tall=len(kept) > 8))
    parts.append("</section>")
    return "".join(parts)


def quality(page: Page, worker_rows: list[dict], agrees: np.ndarray, calibration: dict | None) -> str:
    lang, w = page.language, page.words
    gold_answers, gold_accuracy = gold_figures(worker_rows)
    pairs = [("f_gold_accuracy", percent(gold_accuracy, lang) if gold_answers else w["no_gold"]),
             ("f_gold_answers", integer(gold_answers, lang)),
             ("f_agreement", percent(float(agrees.mean()), lang) if len(agrees) else w["unknown"])]
    note = ""
    if calibration and calibration.get("ece") is not None:
        pairs += [("f_ece", percent(calibration["ece"], lang)),
                  ("f_ece_before", percent(calibration.get("ece_before"), lang))]
        note = f'<p class="note">{page.t("ece_note")}</p>'
    return f'<section><h2>{page.t("quality")}</h2>{page.figures(pairs)}{note}</section>'


def crowd(page: Page, worker_rows: list[dict]) -> str:
    """Workers by the requester's pseudonyms (worker_rows' `worker`), never their ids."""
    lang = page.language
    if not worker_rows:
        return ""
    reliability = np.array([r["reliability"] for r in worker_rows], dtype=float)
    busiest = sorted(worker_rows, key=lambda r: (-r["answers"], r["worker"]))[:MAX_BARS]
    least = sorted(worker_rows, key=lambda r: (r["reliability"], r["worker"]))[:10]
    rows = [[("text", esc(r["worker"])), ("num", esc(integer(r["answers"], lang))),
             ("num", esc(percent(r["gold_accuracy"], lang))), ("num", esc(decimal(r["reliability"], lang)))]
            for r in least]
    header = [page.t("t_worker"), page.t("t_answers"), page.t("f_gold_accuracy"), page.t("t_reliability")]
    return (f'<section><h2>{page.t("crowd")}</h2>'
            f"<h3>{page.t('c_reliability')}</h3>{page.chart(histogram(reliability, 0, 1, lang))}"
            f"<h3>{page.t('c_per_worker', count=len(busiest))}</h3>"
            + page.chart(bars([r["worker"] for r in busiest], [r["answers"] for r in busiest]), tall=len(busiest) > 8)
            + f"<h3>{page.t('least_reliable')}</h3>{table(header, rows)}</section>")
