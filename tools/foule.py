"""`foule`: a small command-line client for requesters and integrators.

    python -m tools.foule create-project project.yaml          # YAML or JSON: the POST /projects body
    python -m tools.foule upload-tasks PROJECT tasks.csv        # or tasks.jsonl; progress bar, per-row errors
    python -m tools.foule watch PROJECT                         # progress until every task is complete
    python -m tools.foule download PROJECT [--run RUN] --out results/   # files, sha256 checked
    python -m tools.foule webhook PROJECT [--url URL | --remove]      # register (prints the secret), show, remove
    python -m tools.foule deliveries PROJECT [--replay DELIVERY]       # the delivery log, newest first

It talks only to the HTTP API (FOULE_API, default http://127.0.0.1:8000, with the key in
FOULE_KEY or --key) and to the presigned URLs the API hands out.

Task files: JSONL, one task object per line ({"task_id", "payload", "known_answer"?}); or CSV
with a `task_id` column, an optional `known_answer` column (empty: not gold), and every
other column a payload field (string values). In a CSV, the known answer of a number, rating,
multiple-choice or boxes project is written as JSON (`12.5`, `3`, `["a","b"]`, `[{"x1":...}]`);
a pairwise task's `left` and `right` columns are its two items' ids.
"""
import csv
import hashlib
import json
import time
from pathlib import Path
from typing import Optional

import requests
import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

BATCH = 500
app = typer.Typer(help=__doc__.split("\n\n")[0], no_args_is_help=True, add_completion=False)
console = Console()
# Tests replace the session (e.g. with one that routes to chalice's test client).
session = requests.Session()


class ApiError(Exception):
    def __init__(self, status: int, body):
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', body)}")
        self.status, self.body = status, body


class Client:
    def __init__(self, api: str, key: str):
        self.api, self.key = api.rstrip("/"), key

    def call(self, method: str, path: str, body=None):
        response = session.request(method, self.api + path, json=body, timeout=60,
                                   headers={"Authorization": f"Bearer {self.key}"})
        data = response.json() if response.content else None
        if response.status_code >= 400:
            raise ApiError(response.status_code, data)
        return data


def client(api: str, key: str) -> Client:
    if not key:
        raise typer.BadParameter("an API key is needed: --key or FOULE_KEY")
    return Client(api, key)


ApiOption = typer.Option("http://127.0.0.1:8000", envvar="FOULE_API", help="Foule's API URL")
KeyOption = typer.Option("", envvar="FOULE_KEY", help="Your API key")


def fail(message: str) -> None:
    console.print(f"[red]{message}[/red]")
    raise typer.Exit(1)


@app.command("create-project")
def create_project(spec: Path = typer.Argument(..., exists=True, help="YAML or JSON project body"),
                   api: str = ApiOption, key: str = KeyOption):
    """Create a project from a YAML or JSON file; prints its id."""
    body = yaml.safe_load(spec.read_text())  # JSON is YAML
    try:
        project = client(api, key).call("POST", "/projects", body)
    except ApiError as error:
        fail(str(error) + ("\n" + json.dumps(error.body["error"]["details"], indent=1)
                           if isinstance(error.body, dict) and error.body.get("error", {}).get("details") else ""))
    console.print(f"created [bold]{project['project_id']}[/bold]: {project['title']}")
    typer.echo(project["project_id"])


JSON_ANSWER_KINDS = ("number", "rating", "multiple_choice", "boxes")


def csv_known_answer(text: str, kind: str):
    """A CSV cell's known answer as the kind's answers look: JSON for the kinds whose answers are
    not text (left as text when it is not JSON: the API then says what is wrong with it)."""
    if kind in JSON_ANSWER_KINDS:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def read_tasks(path: Path, kind: str = "single_choice") -> list[tuple[int, object]]:
    """(line number in the file, task) pairs. A line that is not JSON becomes a row error later
    (sent as-is is not possible), so it is returned as an error marker."""
    rows = []
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as handle:
            for line, record in enumerate(csv.DictReader(handle), start=2):
                task = {"task_id": record.pop("task_id", None),
                        "payload": {k: v for k, v in record.items() if k != "known_answer"}}
                if record.get("known_answer"):
                    task["known_answer"] = csv_known_answer(record["known_answer"], kind)
                rows.append((line, task))
    else:
        for line, text in enumerate(path.read_text().splitlines(), start=1):
            if text.strip():
                try:
                    rows.append((line, json.loads(text)))
                except ValueError as error:
                    rows.append((line, ValueError(f"not JSON: {error}")))
    return rows


@app.command("upload-tasks")
def upload_tasks(project_id: str, tasks_file: Path = typer.Argument(..., exists=True, help="CSV or JSONL"),
                 api: str = ApiOption, key: str = KeyOption):
    """Add tasks in batches, with a progress bar; rows the API refuses are listed by line."""
    foule = client(api, key)
    kind = "single_choice"
    if tasks_file.suffix.lower() == ".csv":
        try:
            kind = foule.call("GET", f"/projects/{project_id}")["answer_type"]["kind"]
        except ApiError as error:
            fail(str(error))
    rows = read_tasks(tasks_file, kind)
    errors = [(line, None, "invalid_json", str(task)) for line, task in rows if isinstance(task, Exception)]
    rows = [(line, task) for line, task in rows if not isinstance(task, Exception)]
    created = unchanged = 0
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as progress:
        bar = progress.add_task("uploading", total=len(rows))
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            try:
                result = foule.call("POST", f"/projects/{project_id}/tasks", {"tasks": [t for _, t in batch]})
            except ApiError as error:
                fail(f"batch from line {batch[0][0]}: {error}")
            created += result["created"]
            unchanged += result["unchanged"]
            errors += [(batch[e["index"]][0], e["task_id"], e["code"], e["message"]) for e in result["errors"]]
            progress.advance(bar, len(batch))
    console.print(f"{created} created, {unchanged} already there, {len(errors)} refused")
    if errors:
        table = Table("line", "task_id", "code", "message", title="refused rows")
        for line, task_id, code, message in sorted(errors, key=lambda e: e[0]):
            table.add_row(str(line), str(task_id or ""), code, message)
        console.print(table)
        raise typer.Exit(2)


@app.command()
def watch(project_id: str, interval: float = typer.Option(5.0, help="seconds between reads"),
          once: bool = typer.Option(False, help="print once and stop"), api: str = ApiOption, key: str = KeyOption):
    """Show a project's progress until every task is complete (Ctrl-C stops)."""
    foule = client(api, key)
    while True:
        p = foule.call("GET", f"/projects/{project_id}/progress")
        # Gold tasks never complete (every worker may answer one) and cancelled ones are done.
        real = p["tasks"] - p["gold_tasks"] - p.get("tasks_cancelled", 0)
        console.print(f"{p['status']}: {p['tasks_complete']}/{real} tasks complete, {p['answers']} answers, "
                      f"{p['leases_outstanding']} leases out, {p['rewards_cents']} cents; "
                      f"last run {p['last_run_id'] or '-'}")
        if once or (real and p["tasks_open"] == 0):
            return
        time.sleep(interval)


@app.command()
def download(project_id: str, out: Path = typer.Option(Path("results"), help="a run_id folder is made here"),
             run: Optional[str] = typer.Option(None, help="an earlier run (default: the latest)"),
             api: str = ApiOption, key: str = KeyOption):
    """Download a run's files and manifest; each file's size and sha256 are checked."""
    foule = client(api, key)
    try:
        results = foule.call("GET", f"/projects/{project_id}/results" + (f"/{run}" if run else ""))
    except ApiError as error:
        fail(str(error))
    folder = out / results["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    bad = []
    for name, entry in sorted(results["files"].items()):
        response = session.get(entry["url"], timeout=300)
        data = response.content
        if response.status_code != 200 or len(data) != entry["bytes"] or \
                hashlib.sha256(data).hexdigest() != entry["sha256"]:
            bad.append(name)
            console.print(f"[red]{name}: checksum or size mismatch (HTTP {response.status_code})[/red]")
            continue
        (folder / name).write_bytes(data)
        console.print(f"{name}: {entry['bytes']} bytes, sha256 ok")
    (folder / "manifest.json").write_text(json.dumps(results["manifest"], indent=1) + "\n")
    if bad:
        fail(f"{len(bad)} file(s) failed verification: {', '.join(bad)}")
    typer.echo(str(folder))


@app.command()
def webhook(project_id: str, url: Optional[str] = typer.Option(None, help="register this https URL"),
            remove: bool = typer.Option(False, help="remove the webhook"), api: str = ApiOption, key: str = KeyOption):
    """Register (--url; prints the signing secret, shown only this once), show, or remove a
    project's webhook."""
    foule = client(api, key)
    path = f"/projects/{project_id}/webhook"
    try:
        if url:
            created = foule.call("PUT", path, {"url": url})
            console.print(f"registered {created['url']}; the signing secret (shown once, keep it):")
            typer.echo(created["secret"])
        elif remove:
            removed = foule.call("DELETE", path)["removed"]
            typer.echo("removed" if removed else "no webhook was registered")
        else:
            typer.echo(foule.call("GET", path)["url"])
    except ApiError as error:
        fail(str(error))


@app.command()
def deliveries(project_id: str, limit: int = typer.Option(20, help="how many, newest first"),
               replay: Optional[str] = typer.Option(None, help="send this delivery again now"),
               api: str = ApiOption, key: str = KeyOption):
    """The webhook's deliveries, newest first; or --replay DELIVERY_ID."""
    foule = client(api, key)
    path = f"/projects/{project_id}/webhook/deliveries"
    try:
        items = [foule.call("POST", f"{path}/{replay}/replay")] if replay else \
            foule.call("GET", f"{path}?limit={limit}")["items"]
    except ApiError as error:
        fail(str(error))
    table = Table("delivery", "run", "status", "attempts", "last answer")
    for d in items:
        last = str(d["last_status"]) if d["last_status"] is not None else (d["last_error"] or "-")
        table.add_row(d["delivery_id"], d["run_id"], d["status"], str(d["attempts"]), last)
    console.print(table)


if __name__ == "__main__":
    app()
