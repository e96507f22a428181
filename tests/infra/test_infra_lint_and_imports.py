"""cfn-lint on the stateful template and on the merged template `chalice package` writes; and
the API function's cold start stays free of numpy and the aggregation package."""
import json
import subprocess
import sys


from tools import package

ROOT = package.ROOT


def run_lint(cfn_lint: str, *paths) -> None:
    completed = subprocess.run([cfn_lint, "--format", "parseable", *map(str, paths)], capture_output=True,
                               text=True, cwd=ROOT)
    assert completed.returncode == 0, f"cfn-lint:\n{completed.stdout}{completed.stderr}"


def test_cfn_lint_stateful_and_packaged_templates(cfn_lint, tmp_path):
    """infra/template.yaml as moto deploys it, and the template of a real `chalice package
    --merge-template` run (tools/package.py --template-only: only the dependency download is
    stubbed), linted with the SAM transform. One cfn-lint run: it takes seconds to start."""
    completed = subprocess.run([sys.executable, "-m", "tools.package", "--stage", "prod", "--template-only",
                                "--out", str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    sam = package.load_cfn(tmp_path / "sam.yaml")
    resources = sam["Resources"]
    assert resources["APIHandler"]["Properties"]["Environment"]["Variables"]["FOULE_TABLE_TASKS"] == \
        {"Ref": "TasksTable"}
    assert resources["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"] == \
        package.role_policy(package.load_cfn(package.AWS_TEMPLATE), "ApiHandlerRole")
    assert set(resources["RestAPI"]["Properties"]["GatewayResponses"]) >= {
        "UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX"}
    assert sam["Parameters"]["Stage"]["Default"] == "prod"
    run_lint(cfn_lint, package.TEMPLATE, tmp_path / "sam.yaml")


def test_gateway_responses_use_the_error_shape():
    responses = package.load_cfn(package.AWS_TEMPLATE)["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    for name, response in responses.items():
        body = response["ResponseTemplates"]["application/json"]
        # $context.error.messageString is a quoted JSON string once API Gateway renders it
        document = json.loads(body.replace("$context.error.messageString", '"x"'))
        assert set(document) == {"error"} and set(document["error"]) == {"code", "message", "details"}, name
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/json'"


PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(m for m in sys.modules
                        if m == "numpy" or m.startswith(("numpy.", "scipy", "chalicelib.aggregation")))))
"""


def imported_by(module: str) -> list[str]:
    completed = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], capture_output=True,
                               text=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"})
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_api_function_does_not_import_numpy_or_aggregation():
    assert imported_by("app") == []


def test_aggregator_import_path_brings_numpy():
    """The probe itself works: the aggregator's import path does load them."""
    loaded = imported_by("chalicelib.services.aggregator")
    assert "numpy" in loaded and "chalicelib.aggregation" in loaded
