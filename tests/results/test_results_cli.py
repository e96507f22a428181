"""The `foule` CLI (tools/foule.py) end to end: API calls go to chalice's test client, presigned
URLs to moto server."""
import contextlib
import io
import json

import pytest
import requests

typer_testing = pytest.importorskip("typer.testing")  # typer and rich: requirements-dev.txt

API = "http://foule.test"


class Response:
    def __init__(self, status, data):
        self.status_code = status
        self.content = json.dumps(data).encode() if data is not None else b""

    def json(self):
        return json.loads(self.content)


class Routed:
    """requests.Session's two methods the CLI uses: API paths to the test client, URLs to moto."""

    def __init__(self, api):
        self.api = api

    def request(self, method, url, json=None, headers=None, timeout=None):
        assert url.startswith(API), url
        key = headers["Authorization"].split(" ", 1)[1]
        # The API is another process for the CLI: its log lines are not the CLI's output.
        with contextlib.redirect_stdout(io.StringIO()):
            return Response(*self.api.request(method, url[len(API):], key, json))

    def get(self, url, timeout=None):
        return requests.get(url, timeout=timeout)


def test_create_upload_watch_and_download(api, requester, new_key, tmp_path, monkeypatch):
    from chalicelib.models import Project
    from chalicelib.services import aggregator
    from tools import foule

    monkeypatch.setattr(foule, "session", Routed(api))
    runner = typer_testing.CliRunner()
    env = {"FOULE_API": API, "FOULE_KEY": requester}

    spec = tmp_path / "project.yaml"
    spec.write_text("title: Cat or dog?\nanswer_type: {kind: single_choice, labels: [cat, dog]}\noverlap: 1\n")
    result = runner.invoke(foule.app, ["create-project", str(spec)], env=env)
    assert result.exit_code == 0, result.output
    project_id = result.output.strip().splitlines()[-1]
    assert project_id.startswith("p-")

    tasks = tmp_path / "tasks.csv"
    tasks.write_text("task_id,image,known_answer\nt1,1.jpg,cat\nt2,2.jpg,\nbad id,3.jpg,\nt4,4.jpg,fish\n")
    result = runner.invoke(foule.app, ["upload-tasks", project_id, str(tasks)], env=env)
    assert result.exit_code == 2, result.output  # some rows refused
    assert "2 created" in result.output and "2 refused" in result.output
    assert "validation_error" in result.output and "invalid_answer" in result.output
    lines = {line.split("│")[1].strip() for line in result.output.splitlines() if line.count("│") >= 4}
    assert {"4", "5"} <= lines  # file lines of the refused rows (the header is line 1)

    worker, _ = new_key("worker")
    for task_id in ("t1", "t2"):  # t1 is gold: it is mixed in at the gold rate, so lease both by id
        lease = api.post(f"/projects/{project_id}/tasks/{task_id}/lease", worker)[1]
        assert api.post(f"/leases/{lease['lease_id']}/answer", worker, {"answer": "cat"})[0] == 200
    result = runner.invoke(foule.app, ["watch", project_id, "--once"], env=env)
    assert result.exit_code == 0 and "1/1 tasks complete" in result.output, result.output

    run_id = aggregator.aggregate_project(Project.get(project_id))["run_id"]
    result = runner.invoke(foule.app, ["download", project_id, "--out", str(tmp_path / "out")], env=env)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "out" / run_id
    assert sorted(p.name for p in folder.iterdir()) == ["answers.jsonl.gz", "manifest.json", "report.html",
                                                       "results.csv", "results.jsonl", "workers.csv"]
    assert json.loads((folder / "manifest.json").read_text())["run_id"] == run_id

    class Tampered(Routed):
        def get(self, url, timeout=None):
            response = requests.get(url, timeout=timeout)
            response._content = response.content + b"x"
            return response

    monkeypatch.setattr(foule, "session", Tampered(api))
    result = runner.invoke(foule.app, ["download", project_id, "--run", run_id, "--out", str(tmp_path / "bad")], env=env)
    assert result.exit_code == 1 and "failed verification" in result.output, result.output


def test_register_a_webhook_read_its_deliveries_and_replay_one(api, requester, answered_project, local_webhooks,
                                                               receiver, monkeypatch):
    from chalicelib.models import Project
    from chalicelib.services import aggregator
    from tools import foule

    monkeypatch.setattr(foule, "session", Routed(api))
    runner = typer_testing.CliRunner()
    env = {"FOULE_API": API, "FOULE_KEY": requester}
    project_id, _ = answered_project(answers={"w0": {"t1": "dog"}})
    result = runner.invoke(foule.app, ["webhook", project_id, "--url", "http://hooks.example.org/x"], env=env)
    assert result.exit_code == 1 and "webhook_url_not_https" in result.output, result.output

    target = receiver(statuses=[500])
    result = runner.invoke(foule.app, ["webhook", project_id, "--url", target.url], env=env)
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    result = runner.invoke(foule.app, ["webhook", project_id], env=env)
    assert result.exit_code == 0 and result.output.strip() == target.url and secret not in result.output

    aggregator.aggregate_project(Project.get(project_id))
    result = runner.invoke(foule.app, ["deliveries", project_id], env=env)
    assert result.exit_code == 0 and "pending" in result.output and "500" in result.output, result.output
    delivery_id = target.requests[0][0]["Foule-Delivery"]
    result = runner.invoke(foule.app, ["deliveries", project_id, "--replay", delivery_id], env=env)
    assert result.exit_code == 0 and "delivered" in result.output, result.output
    assert len(target.requests) == 2
    result = runner.invoke(foule.app, ["webhook", project_id, "--remove"], env=env)
    assert result.exit_code == 0 and "removed" in result.output



@pytest.mark.parametrize("spec, tasks, known", [
    ("title: Weight\nanswer_type: {kind: number, min: 0, max: 10, unit: kg, gold_abs_tolerance: 0.5}\n",
     "task_id,photo,known_answer\nt1,1.jpg,2.5\nt2,2.jpg,\nt3,3.jpg,11\n", 2.5),
    ("title: Tags\nanswer_type: {kind: multiple_choice, labels: [red, green], max_selected: 1}\n",
     'task_id,photo,known_answer\nt1,1.jpg,"[""red""]"\nt2,2.jpg,\nt3,3.jpg,"[""red"",""green""]"\n', ["red"]),
    ("title: Heavier?\nanswer_type: {kind: pairwise, allow_tie: true}\n",
     "task_id,left,right,known_answer\nt1,P1,P2,P2\nt2,P1,P3,tie\nt3,P2,P3,P9\n", "P2"),
    ('{"title": "Cars", "answer_type": {"kind": "boxes", "labels": ["car"], "image_width": 640, "image_height": 480}}',
     'task_id,image_url,known_answer\nt1,a.jpg,"[{""x1"":1,""y1"":1,""x2"":50,""y2"":40}]"\nt2,b.jpg,[]\n'
     't3,c.jpg,"[{""x1"":600,""y1"":1,""x2"":700,""y2"":40}]"\n',
     [{"x1": 1.0, "y1": 1.0, "x2": 50.0, "y2": 40.0, "label": "car"}]),
])
def test_projects_of_every_kind_from_yaml_or_json(spec, tasks, known, api, requester, tmp_path, monkeypatch):
    """A project of each kind from its YAML or JSON body; a task CSV's known answers read as the
    kind's answers (numbers, JSON lists), the one breaking a rule of the kind refused."""
    from tools import foule

    monkeypatch.setattr(foule, "session", Routed(api))
    runner = typer_testing.CliRunner()
    env = {"FOULE_API": API, "FOULE_KEY": requester}
    (tmp_path / "project.yaml").write_text(spec)
    result = runner.invoke(foule.app, ["create-project", str(tmp_path / "project.yaml")], env=env)
    assert result.exit_code == 0, result.output
    project_id = result.output.strip().splitlines()[-1]
    (tmp_path / "tasks.csv").write_text(tasks)
    result = runner.invoke(foule.app, ["upload-tasks", project_id, str(tmp_path / "tasks.csv")], env=env)
    assert result.exit_code == 2 and "2 created" in result.output and "1 refused" in result.output, result.output
    assert api.get(f"/projects/{project_id}/tasks/t1", requester)[1]["known_answer"] == known
    assert api.get(f"/projects/{project_id}/tasks/t3", requester)[0] == 404
