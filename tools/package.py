"""Build the deployable artefacts for AWS, and render the IAM policy files Chalice reads.

    python -m tools.package --stage prod        # what `make package STAGE=prod` runs
    python -m tools.package policies            # re-render .chalice/policy-*.json
    python -m tools.package policies --check    # fail if they are out of date

`--stage` writes to dist/:
    dist/merge.yaml        infra/template.yaml + infra/aws.yaml + what is derived from them
    dist/sam.yaml          the SAM template `chalice package --merge-template` writes, its
                           authorized methods requiring the usage plans' API key
    dist/deployment.zip    the Lambda code (app.py, chalicelib/, runtime requirements)
    dist/package.json      sizes, runtime, architecture and the checks that passed
and refuses to finish if the zip holds anything that does not run (tests, bench, tools), a
binary for another architecture, a runtime requirement missing, or exceeds Lambda's limits.

Derived, so that nothing is written twice:
- each function's FOULE_* environment: one variable per Output of infra/template.yaml, named
  by tools.local_stack.output_env_var (the same mapping the local stack uses), valued with the
  Output's own expression (!Ref of the table or bucket);
- one DynamoDB throttle alarm per AWS::DynamoDB::Table of infra/template.yaml;
- the worker app's CloudFront origin (infra/aws.yaml's AppDistribution) as the media bucket's
  CORS origin and in the API's CORS preflights (see `cors_for_the_app`);
- .chalice/policy-*.json (for `chalice deploy`) from the IAM roles of infra/aws.yaml: the same
  statements, with each !GetAtt/!Sub of a table or the bucket resolved to an ARN pattern whose
  stage is `*` (Chalice reads one file per function for every stage).
"""
import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
TEMPLATE = INFRA / "template.yaml"
AWS_TEMPLATE = INFRA / "aws.yaml"
CHALICE_DIR = ROOT / ".chalice"
DIST = ROOT / "dist"

# Chalice-generated resource names (chalice 1.34) -> the function they stand for.
FUNCTIONS = {"APIHandler": "api_handler", "Aggregator": "aggregator", "ApiKey": "api_key"}
ROLES = {"ApiHandlerRole": "api_handler", "AggregatorRole": "aggregator", "ApiKeyRole": "api_key"}
# The policy file Chalice reads for each function (.chalice/config.json "iam_policy_file").
POLICY_FILES = {"api_handler": "policy-api.json", "aggregator": "policy-aggregator.json",
                "api_key": "policy-authorizer.json"}
# Lambda limits for a zip deployment.
MAX_ZIPPED = 50 * 1024 * 1024
MAX_UNZIPPED = 250 * 1024 * 1024
# What may be at the top of the zip besides the runtime requirements.
APP_ENTRIES = {"app.py", "chalicelib"}
NEVER_IN_ZIP = ("tests/", "bench/", "tools/", "infra/", ".venv", ".chalice/", "dist/", "conftest.py")
# Files the code reads at run time that are not Python: the run report's page and the chart
# library it inlines (`make assets` copies it from node_modules; it is not committed).
REQUIRED_IN_ZIP = ("chalicelib/templates/report.html", "chalicelib/templates/echarts.min.js")


# --- CloudFormation YAML ----------------------------------------------------------------
class CfnLoader(yaml.SafeLoader):
    """PyYAML SafeLoader that reads CloudFormation short-form tags into their long form
    (!Ref X -> {"Ref": "X"}, !GetAtt A.B -> {"Fn::GetAtt": ["A", "B"]}, !Sub s -> {"Fn::Sub": s})."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_cfn(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=CfnLoader)


def output_env_var(output_name: str) -> str:
    sys.path.insert(0, str(ROOT))
    from tools.local_stack import output_env_var as mapping

    return mapping(output_name)


# --- The merge template -----------------------------------------------------------------
def deep_merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def table_throttle_alarm(logical_id: str) -> dict:
    """Read and write throttle events of one table (and its indexes' share of the table's)."""
    def metric(query_id, name):
        return {"Id": query_id, "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "AWS/DynamoDB", "MetricName": name,
                       "Dimensions": [{"Name": "TableName", "Value": {"Ref": logical_id}}]},
            "Period": 300, "Stat": "Sum"}}

    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": {"Fn::Sub": f"DynamoDB throttled requests on ${{{logical_id}}}"},
        "Metrics": [metric("reads", "ReadThrottleEvents"), metric("writes", "WriteThrottleEvents"),
                    {"Id": "throttles", "Expression": "reads + writes", "Label": "Throttle events",
                     "ReturnData": True}],
        "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching", "AlarmActions": [{"Ref": "AlarmTopic"}]}}


def merge_template(stage: str) -> dict:
    """template.yaml + aws.yaml + derived resources: what `chalice package` merges."""
    stateful, aws = load_cfn(TEMPLATE), load_cfn(AWS_TEMPLATE)
    merged = copy.deepcopy(stateful)
    for section in ("Parameters", "Mappings", "Conditions", "Resources", "Outputs"):
        ours, theirs = merged.setdefault(section, {}), aws.get(section, {})
        clash = set(ours) & set(theirs)
        if clash:
            raise SystemExit(f"{section} {sorted(clash)} are in both template.yaml and aws.yaml: "
                             "each resource has one source of truth")
        ours.update(copy.deepcopy(theirs))
    if stage not in merged["Parameters"]["Stage"]["AllowedValues"]:
        raise SystemExit(f"unknown stage {stage!r}")
    merged["Parameters"]["Stage"]["Default"] = stage
    merged.pop("Description", None)  # chalice's template keeps its own
    resources = merged["Resources"]
    environment = {output_env_var(name): output["Value"] for name, output in stateful["Outputs"].items()}
    for function in FUNCTIONS:
        resources[function] = deep_merge(resources.get(function, {}), {
            "Type": "AWS::Serverless::Function",
            "Properties": {"Environment": {"Variables": environment}}})
    for logical_id, resource in stateful["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            resources[f"{logical_id}ThrottleAlarm"] = table_throttle_alarm(logical_id)
    # Media is uploaded and shown by the worker app: its origin, not the local stack's "*".
    for rule in resources["MediaBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]:
        if rule["AllowedOrigins"] == {"Ref": "MediaCorsOrigins"}:
            rule["AllowedOrigins"] = [APP_ORIGIN]
    if not _references(merged["Resources"], "MediaCorsOrigins"):
        merged["Parameters"].pop("MediaCorsOrigins")
    return merged


def _references(value, name: str) -> bool:
    if isinstance(value, dict):
        return value.get("Ref") == name or any(_references(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_references(v, name) for v in value)
    return False


# --- Policies for `chalice deploy` ------------------------------------------------------
def role_policy(template: dict, role: str) -> dict:
    policies = template["Resources"][role]["Properties"]["Policies"]
    assert len(policies) == 1, f"{role}: one inline policy expected"
    return policies[0]["PolicyDocument"]


def _stage_free_names(stateful: dict) -> dict[str, tuple[str, str]]:
    """Logical id -> (service, name pattern with the stage as `*`) for tables, the bucket and the user pool."""
    names = {}
    for logical_id, resource in stateful["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            service, name = "dynamodb", props["TableName"]["Fn::Sub"]
        elif resource["Type"] == "AWS::S3::Bucket":
            service, name = "s3", props["BucketName"]["Fn::Sub"]
        elif resource["Type"] == "AWS::Cognito::UserPool":
            service, name = "cognito-idp", "*"  # pool ids are generated: any pool of the account
        else:
            continue
        names[logical_id] = (service, re.sub(r"\$\{[^}]+\}", "*", name))
    return names


def render_policies() -> dict[str, dict]:
    """Each function's policy file: aws.yaml's statements with concrete ARN patterns."""
    stateful, aws = load_cfn(TEMPLATE), load_cfn(AWS_TEMPLATE)
    names = _stage_free_names(stateful)
    # A secret's ARN ends in "-" and six random characters Secrets Manager adds to its name.
    secrets = {logical_id: "arn:aws:secretsmanager:*:*:secret:"
               + re.sub(r"\$\{[^}]+\}", "*", resource["Properties"]["Name"]["Fn::Sub"]) + "-*"
               for logical_id, resource in aws["Resources"].items()
               if resource["Type"] == "AWS::SecretsManager::Secret"}

    def arn(logical_id):
        service, name = names[logical_id]
        if service == "cognito-idp":
            return f"arn:aws:cognito-idp:*:*:userpool/{name}"
        return f"arn:aws:dynamodb:*:*:table/{name}" if service == "dynamodb" else f"arn:aws:s3:::{name}"

    def resolve(value):
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict) and value.get("Ref") in secrets:
            return secrets[value["Ref"]]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", value
            return arn(logical_id)
        if isinstance(value, dict) and "Fn::Sub" in value:
            text = re.sub(r"\$\{(\w+)\.Arn\}", lambda m: arn(m.group(1)), value["Fn::Sub"])
            # Pseudo parameters (the API Gateway ARNs): any region of the aws partition.
            return text.replace("${AWS::Partition}", "aws").replace("${AWS::Region}", "*")
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    rendered = {}
    for role, function in ROLES.items():
        document = role_policy(aws, role)
        statements = []
        for statement in document["Statement"]:
            if statement.get("Sid") == "Logs":
                # chalice deploy names functions foule-<stage>-<function> and lets Lambda create
                # the log group (no retention set), so it needs CreateLogGroup as well.
                statement = {"Sid": "Logs", "Effect": "Allow",
                             "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                             "Resource": "arn:aws:logs:*:*:log-group:/aws/lambda/foule-*"}
            statements.append(resolve(statement))
        rendered[POLICY_FILES[function]] = {"Version": document["Version"], "Statement": statements}
    return rendered


def policy_text(document: dict) -> str:
    return json.dumps(document, indent=2) + "\n"


# Files this repository checks in (the authorizer's is proposed: see the README section).
CHECKED_IN_POLICIES = ("policy-api.json", "policy-aggregator.json", "policy-authorizer.json")


def write_policies(directory: Path, names=None) -> list[Path]:
    written = []
    for name, document in render_policies().items():
        if names is None or name in names:
            (directory / name).write_text(policy_text(document))
            written.append(directory / name)
    return written


def stale_policies() -> list[str]:
    stale = []
    for name, document in render_policies().items():
        path = CHALICE_DIR / name
        if name in CHECKED_IN_POLICIES or path.exists():
            if not path.exists() or path.read_text() != policy_text(document):
                stale.append(name)
    return stale


# --- Packaging --------------------------------------------------------------------------
def stage_project(build: Path, stage: str) -> Path:
    """A copy of exactly what Chalice packages: app.py, chalicelib/, requirements.txt and the
    Chalice config, with the rendered policies. Kept between runs so that Chalice reuses its
    cached dependency build (.chalice/deployments)."""
    project = build / "project"
    (project / ".chalice").mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "app.py", project / "app.py")
    shutil.copy2(ROOT / "requirements.txt", project / "requirements.txt")
    if (project / "chalicelib").exists():
        shutil.rmtree(project / "chalicelib")
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    write_policies(project / ".chalice")
    # The authorizer has no iam_policy_file in config.json until the proposed entry lands; then
    # Chalice reads policy-<stage>.json. The merged template overrides its policy either way.
    if "api_key" not in config.get("lambda_functions", {}):
        shutil.copy2(project / ".chalice" / "policy-authorizer.json",
                     project / ".chalice" / f"policy-{stage}.json")
    return project


def requirement_names() -> list[str]:
    names = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(re.split(r"[<>=!~\[; ]", line, 1)[0].lower().replace("-", "_"))
    return names


IMPORT_NAMES = {"pyyaml": "yaml", "python_dateutil": "dateutil", "pyjwt": "jwt"}


def check_zip(path: Path, architecture: str) -> dict:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    unzipped = sum(i.file_size for i in infos)
    zipped = path.stat().st_size
    problems = []
    top = {n.split("/", 1)[0] for n in names}
    for bad in NEVER_IN_ZIP:
        # the project's own; third-party packages may ship their own tests
        hits = [n for n in names if n.startswith(bad) or (n.startswith("chalicelib/") and f"/{bad}" in n)]
        if hits:
            problems.append(f"{bad} in the zip: {hits[:3]}")
    missing = [n for n in REQUIRED_IN_ZIP if n not in names]
    if missing:
        problems.append(f"{missing} missing from the zip (run `make assets`)")
    for name in requirement_names():
        module = IMPORT_NAMES.get(name, name)
        if module not in top and f"{module}.py" not in top:
            problems.append(f"runtime requirement {name} is missing from the zip (no Lambda-compatible "
                            f"wheel for {architecture}? see the README's deployment section)")
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    other = {"aarch64": "x86_64", "x86_64": "aarch64"}[machine]
    native = [n for n in names if n.endswith(".so") or ".so." in n]
    wrong = [n for n in native if other in n]
    if wrong:
        problems.append(f"{other} binaries in an {architecture} package: {wrong[:3]}")
    if zipped > MAX_ZIPPED:
        problems.append(f"zip is {zipped} bytes, over Lambda's {MAX_ZIPPED}")
    if unzipped > MAX_UNZIPPED:
        problems.append(f"unzipped size {unzipped} bytes, over Lambda's {MAX_UNZIPPED}")
    return {"zipped_bytes": zipped, "unzipped_bytes": unzipped, "files": len(names),
            "top_level": sorted(top), "native_libraries": native, "problems": problems}


# Template only (for the tests): the same `chalice package` run, with the dependency build
# stubbed out, so the zip holds only app.py and chalicelib/ and it takes a second, offline.
CHALICE_MAIN = "import sys; from chalice.cli import main; sys.exit(main())"
CHALICE_TEMPLATE_ONLY = (
    "import sys; from chalice.deploy import packager; "
    "packager.LambdaDeploymentPackager._build_python_dependencies = lambda *a, **k: None; "
    "from chalice.cli import main; sys.exit(main())")


# API Gateway applies a usage plan (infra/aws.yaml, per-key limits) only to methods that
# require an API key. chalice 1.34 reserves the security name "api_key" for its own flag for
# that (api_key_required), and Foule's authorizer has that name: chalice writes the authorizer's
# definition and then overwrites it with a plain x-api-key one (the authorizer would never run).
# So the definition is restored here, as chalice's CFN generator writes it (ttl 0, as in
# chalicelib/api.py), and every method the authorizer guards requires an API key under another
# name; the key comes from the authorizer (api-key-source AUTHORIZER), never from a header.
AUTHORIZER = "api_key"
USAGE_PLAN_KEY = "usage_plan_key"
AUTHORIZER_DEFINITION = {
    "in": "header", "type": "apiKey", "name": "Authorization", "x-amazon-apigateway-authtype": "custom",
    "x-amazon-apigateway-authorizer": {"type": "token", "authorizerResultTtlInSeconds": 0, "authorizerUri": {
        "Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
                   "/functions/${ApiKey.Arn}/invocations"}}}


def require_usage_plan_keys(sam: dict) -> int:
    """Make every method the authorizer guards require an API key; how many it changed."""
    body = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    body.setdefault("securityDefinitions", {}).update(
        {AUTHORIZER: AUTHORIZER_DEFINITION, USAGE_PLAN_KEY: {"type": "apiKey", "name": "x-api-key", "in": "header"}})
    changed = 0
    for methods in body["paths"].values():
        for operation in methods.values():
            security = operation.get("security", []) if isinstance(operation, dict) else []
            if any(AUTHORIZER in s for s in security) and not any(USAGE_PLAN_KEY in s for s in security):
                security.append({USAGE_PLAN_KEY: []})
                changed += 1
    return changed


# The worker app's origin in AWS (infra/aws.yaml). Chalice writes the CORS preflights (API
# Gateway mock integrations) when it imports app.py, from settings.app_origins, but the
# CloudFront domain exists only once the stack does: `chalice package` runs with a placeholder
# origin, and each preflight's literal origin becomes this expression. At run time the function
# reads the same origin from FOULE_APP_ORIGINS (infra/aws.yaml).
APP_ORIGIN = {"Fn::Sub": "https://${AppDistribution.DomainName}"}
PACKAGE_TIME_ORIGIN = "https://app-origin.foule.invalid"


def cors_for_the_app(sam: dict) -> int:
    """Name the app's CloudFront origin in every preflight; how many it rewrote."""
    placeholder = f"'{PACKAGE_TIME_ORIGIN}'"
    rewritten = 0
    for methods in sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"].values():
        for response in methods.get("options", {}).get("x-amazon-apigateway-integration", {}).get(
                "responses", {}).values():
            parameters = response.get("responseParameters", {})
            if parameters.get("method.response.header.Access-Control-Allow-Origin") == placeholder:
                parameters["method.response.header.Access-Control-Allow-Origin"] = {
                    "Fn::Sub": "'https://${AppDistribution.DomainName}'"}
                rewritten += 1
    if PACKAGE_TIME_ORIGIN in json.dumps(sam):
        raise SystemExit(f"{PACKAGE_TIME_ORIGIN} left in the packaged template: chalice's CORS output changed")
    return rewritten


def package(stage: str, out: Path, template_only: bool = False) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    build = out / ("build-template-only" if template_only else "build")
    project = stage_project(build, stage)
    merge_path = out / "merge.yaml"
    merge_path.write_text(json.dumps(merge_template(stage), indent=1))  # JSON is YAML
    chalice_out = build / "chalice-out"
    if chalice_out.exists():
        shutil.rmtree(chalice_out)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
           "FOULE_APP_ORIGINS": PACKAGE_TIME_ORIGIN}
    chalice = [sys.executable, "-c", CHALICE_TEMPLATE_ONLY if template_only else CHALICE_MAIN,
               "package", "--stage", stage,
               "--template-format", "yaml", "--merge-template", str(merge_path), str(chalice_out)]
    completed = subprocess.run(chalice, cwd=project, env=env, capture_output=True, text=True)
    sys.stdout.write(completed.stdout)
    sys.stderr.write(completed.stderr)
    if completed.returncode:
        raise SystemExit(f"chalice package failed ({completed.returncode})")
    generated = load_cfn(chalice_out / "sam.yaml")
    require_usage_plan_keys(generated)
    cors_for_the_app(generated)
    (chalice_out / "sam.yaml").write_text(json.dumps(generated, indent=1))  # JSON is YAML
    if template_only:
        shutil.copy2(chalice_out / "sam.yaml", out / "sam.yaml")
        return {"stage": stage, "template": str(out / "sam.yaml")}
    for name in ("sam.yaml", "deployment.zip"):
        shutil.copy2(chalice_out / name, out / name)
    config = json.loads((CHALICE_DIR / "config.json").read_text())
    architecture = config.get("lambda_architecture", "x86_64")
    sam = load_cfn(out / "sam.yaml")
    runtimes = sorted({r["Properties"].get("Runtime") for r in sam["Resources"].values()
                       if r["Type"] == "AWS::Serverless::Function"})
    report = {"stage": stage, "runtime": runtimes, "architecture": architecture,
              "chalice_warnings": [line for line in completed.stdout.splitlines() + completed.stderr.splitlines()
                                   if "missing" in line.lower() or "could not" in line.lower()],
              **check_zip(out / "deployment.zip", architecture)}
    (out / "package.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="package", choices=["package", "policies", "merge"])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", type=Path, default=DIST)
    parser.add_argument("--check", action="store_true", help="policies: fail if the files are stale")
    parser.add_argument("--template-only", action="store_true",
                        help="write only sam.yaml, without building the dependencies (for tests)")
    args = parser.parse_args(argv)
    if args.command == "policies":
        if args.check:
            stale = stale_policies()
            if stale:
                print(f"stale: {stale}; run `python -m tools.package policies`", file=sys.stderr)
                return 1
            return 0
        for path in write_policies(CHALICE_DIR, CHECKED_IN_POLICIES):
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    if args.command == "merge":
        print(json.dumps(merge_template(args.stage), indent=1))
        return 0
    report = package(args.stage, args.out, template_only=args.template_only)
    if args.template_only:
        print(f"{args.out}/sam.yaml")
        return 0
    mib = 1024 * 1024
    print(f"{args.out}/sam.yaml, {args.out}/deployment.zip: runtime {', '.join(report['runtime'])}, "
          f"{report['architecture']}, {report['zipped_bytes'] / mib:.1f} MiB zipped, "
          f"{report['unzipped_bytes'] / mib:.1f} MiB unzipped, {report['files']} files")
    if report["problems"]:
        print("PACKAGE REJECTED:\n  " + "\n  ".join(report["problems"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
