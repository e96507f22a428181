"""Logs and metrics, for operators who cannot attach a debugger.

Logs: every line of the "foule" loggers is one JSON object on stdout (CloudWatch Logs keeps it
as one event, Logs Insights reads its fields), with the current request's id, route and
caller role added to each line written while the request runs. The route layer writes one
line per request (`request`: status, error code, duration); the scheduled function one per
pass. Locally the same lines are readable text: FOULE_LOG_FORMAT=text, or stdout is a terminal
(FOULE_LOG_FORMAT=json forces JSON). FOULE_LOG_LEVEL (default INFO) sets the level.

Metrics: CloudWatch embedded metric format (EMF), i.e. JSON log lines that CloudWatch turns
into metrics with no API call and no agent. A request or a scheduled run collects its metrics
(`metric(...)`) and `scope` writes them when it ends, one document per dimension set; outside
a scope a metric is written at once. Namespace "Foule", dimension `service` ("api" or
"scheduler"); `Errors` also by `code`. As text (locally) a metric is a DEBUG line, since the
request and run lines already carry the same figures.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

Standard library only: AWS Lambda Powertools' Logger and Metrics would do the same and cost
the API function's cold start more (bench/RESULTS.md "Logs and metrics").
"""
import contextlib
import contextvars
import json
import logging
import os
import sys
import time

NAMESPACE = "Foule"
LOGGER = "foule"
# Metric names, one home: infra/aws.yaml's dashboard and alarm use the same strings.
ANSWERS_ACCEPTED = "AnswersAccepted"
LEASES_GRANTED = "LeasesGranted"
ERRORS = "Errors"
REQUEST_MS = "RequestDuration"
AGGREGATION_MS = "AggregationDuration"
PUBLICATION_LAG_MS = "PublicationLag"
SCHEDULED_PASS_MS = "ScheduledPassDuration"

# Fields of the request (or run) in progress, added to every log line and metric document.
_context: contextvars.ContextVar[dict] = contextvars.ContextVar("foule_log_context", default={})
_metrics: contextvars.ContextVar[list | None] = contextvars.ContextVar("foule_metrics", default=None)


def text_format() -> bool:
    chosen = os.environ.get("FOULE_LOG_FORMAT", "").lower()
    if chosen in ("text", "json"):
        return chosen == "text"
    return sys.stdout.isatty()


class _Stdout(logging.StreamHandler):
    """Writes to the sys.stdout of the moment (a test's capture, the local server's terminal)."""

    def __init__(self):
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value):
        pass


class LineFormatter(logging.Formatter):
    """JSON, or readable text (see text_format), decided per line so a test or a terminal
    can switch."""

    def format(self, record: logging.LogRecord) -> str:
        return self.text(record) if text_format() else self.json(record)

    def json(self, record: logging.LogRecord) -> str:
        line = {"timestamp": _iso(record.created), "level": record.levelname, "logger": record.name,
                "message": record.getMessage(), **_context.get(), **getattr(record, "fields", {})}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))

    def text(self, record: logging.LogRecord) -> str:
        fields = {**_context.get(), **getattr(record, "fields", {})}
        text = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:7s} " \
               f"{record.getMessage()}" + "".join(f" {k}={v}" for k, v in fields.items() if v is not None)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging() -> logging.Logger:
    """The "foule" logger writing one line per record to stdout (LineFormatter). Idempotent;
    called by the route layer when the app is built."""
    logger = logging.getLogger(LOGGER)
    handler = next((h for h in logger.handlers if isinstance(h, _Stdout)), None)
    if handler is None:
        for other in list(logger.handlers):  # e.g. Chalice's own plain-text handler
            logger.removeHandler(other)
        handler = _Stdout()
        logger.addHandler(handler)
    handler.setFormatter(LineFormatter())
    logger.setLevel(os.environ.get("FOULE_LOG_LEVEL", "INFO").upper())
    logger.propagate = False
    return logger


def log_event(message: str, level: int = logging.INFO, **fields) -> None:
    """One log line with these fields (beside the request's own)."""
    logging.getLogger(LOGGER).log(level, message, extra={"fields": fields})


def metric(name: str, value: float, unit: str = "Count", **dimensions: str) -> None:
    """Record a metric in the current scope (or write it at once outside any scope)."""
    collected = _metrics.get()
    if collected is None:
        _write_metrics([(name, value, unit, dimensions)], {"service": "scheduler"})
    else:
        collected.append((name, value, unit, dimensions))


@contextlib.contextmanager
def scope(service: str, **fields):
    """A request or a scheduled run: `fields` go on each of its log lines; its metrics are
    written when it ends. Yields the dict of fields, which the caller may add to."""
    context = {**_context.get(), **fields}
    context_token, metrics_token = _context.set(context), _metrics.set([])
    try:
        yield context
    finally:
        collected = _metrics.get() or []
        _metrics.reset(metrics_token)
        try:
            if collected:
                _write_metrics(collected, {"service": service, **context})
        finally:
            _context.reset(context_token)


def emf_documents(collected: list, properties: dict) -> list[dict]:
    """EMF documents for (name, value, unit, dimensions) records: one per set of dimension
    values; a metric recorded twice gets a list of values (CloudWatch counts each)."""
    groups: dict[tuple, dict] = {}
    for name, value, unit, dimensions in collected:
        key = tuple(sorted(dimensions.items()))
        group = groups.setdefault(key, {"metrics": {}, "units": {}})
        group["metrics"].setdefault(name, []).append(value)
        group["units"][name] = unit
    documents = []
    for key, group in groups.items():
        dimension_names = ["service", *(k for k, _ in key)]
        document = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{
            "Namespace": NAMESPACE, "Dimensions": [dimension_names],
            "Metrics": [{"Name": n, "Unit": group["units"][n]} for n in group["metrics"]]}]},
            **properties, **dict(key)}
        for name, values in group["metrics"].items():
            document[name] = values[0] if len(values) == 1 else values
        documents.append(document)
    return documents


def _write_metrics(collected: list, properties: dict) -> None:
    documents = emf_documents(collected, properties)
    if text_format():
        metrics_log = logging.getLogger(f"{LOGGER}.metrics")
        if metrics_log.isEnabledFor(logging.DEBUG):
            for doc in documents:
                names = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                dims = " ".join(f"{k}={doc[k]}" for k in doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0])
                metrics_log.debug("METRIC  " + " ".join(f"{m['Name']}={doc[m['Name']]}{_unit(m['Unit'])}"
                                                        for m in names) + f"  {dims}")
        return
    for doc in documents:  # raw lines: CloudWatch extracts metrics only from a whole-JSON event
        print(json.dumps(doc, default=str, separators=(",", ":")), file=sys.stdout, flush=True)


def _unit(unit: str) -> str:
    return {"Milliseconds": "ms", "Count": ""}.get(unit, f" {unit}")


def _iso(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created * 1000) % 1000:03d}Z"
