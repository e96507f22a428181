"""The local stack: moto in server mode, the infra template deployed into it, `chalice local`,
and a loop standing in for the EventBridge schedule.

    python -m tools.local_stack            # what `make run` runs; Ctrl-C stops everything

The tables and the bucket are created by deploying infra/template.yaml into moto's
CloudFormation: the same template production uses, so there is no second list of tables.
The usage plans of infra/aws.yaml (per-key limits) are created from that file the same way.
The tests use `start_moto` and `deploy_stack` from here too.
"""
import argparse
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.yaml"
AWS_TEMPLATE = ROOT / "infra" / "aws.yaml"
LOCAL_DIR = ROOT / ".local"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up within {timeout} s") from None
            time.sleep(0.1)


def start_moto(port: int, baseline: bool = False) -> subprocess.Popen:
    """moto in server mode on 127.0.0.1:port, as a child process (see tools/moto_server.py);
    `baseline` leaves out the patches that only make it quicker (to compare against)."""
    process = subprocess.Popen([sys.executable, "-m", "tools.moto_server", "-H", "127.0.0.1", "-p", str(port),
                                "--parent-pid", str(os.getpid()), *(["--baseline"] if baseline else [])],
                               cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_http(f"http://127.0.0.1:{port}/moto-api/")
    return process


def start_chalice_local(port: int, env: dict, quiet: bool = False) -> subprocess.Popen:
    """`chalice local` on 127.0.0.1:port serving app.py with the given environment.

    Through tools/chalice_local.py (a larger listen backlog), and with --no-autoreload: it
    otherwise restarts whenever a file in the project changes, dropping requests in flight."""
    output = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen([sys.executable, "-m", "tools.chalice_local", "--stage", "local",
                                "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"],
                               cwd=ROOT, env=env, stdout=output, stderr=output)
    wait_for_http(f"http://127.0.0.1:{port}/openapi.json", timeout=60)
    return process


def output_env_var(output_name: str) -> str:
    """FouleTableApiKeys -> FOULE_TABLE_API_KEYS: the template's outputs name the variables."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", output_name).upper()


def deploy_stack(endpoint: str, stage: str = "local") -> dict[str, str]:
    """Deploy infra/template.yaml into the moto server; return the environment the app needs."""
    import boto3

    cloudformation = boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1",
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
    name = f"foule-{stage}"
    existing = {s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]
                if s["StackStatus"] != "DELETE_COMPLETE"}
    template, cognito = moto_template()
    if name not in existing:
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template),
                                    Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}])
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    env = {output_env_var(o["OutputKey"]): o["OutputValue"] for o in stack["Outputs"]}
    env.update(create_user_pool(endpoint, stage, cognito))
    enable_time_to_live(endpoint, stage)
    env["FOULE_USAGE_PLANS"] = create_usage_plans(endpoint, stage)
    # The deployment's secret (sealed ids, pseudonyms): one per stack, so every process that
    # reads this stack derives the same one, and a new stack has a new one.
    secret = hashlib.sha256(f"foule-local-secret:{stack['StackId']}".encode()).hexdigest()
    return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, **env, "FOULE_SECRET_KEY": secret}


def moto_template() -> tuple[dict, dict]:
    """infra/template.yaml without its Cognito resources and their outputs (moto's
    CloudFormation cannot create them), and those resources and outputs."""
    from tools.package import load_cfn

    template = load_cfn(TEMPLATE)
    cognito = {k: r for k, r in template["Resources"].items() if r["Type"].startswith("AWS::Cognito::")}
    outputs = {k: o for k, o in template["Outputs"].items() if o["Value"].get("Ref") in cognito}
    for logical_id in cognito:
        del template["Resources"][logical_id]
    for output in outputs:
        del template["Outputs"][output]
    return template, {"resources": cognito, "outputs": outputs}


def _resolve(value, stage: str, refs: dict):
    """The few intrinsic functions the template's Cognito properties use, as CloudFormation would."""
    if isinstance(value, list):
        return [_resolve(v, stage, refs) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Sub" in value:
        return value["Fn::Sub"].replace("${Stage}", stage)
    if "Fn::If" in value:
        condition, if_true, if_false = value["Fn::If"]
        assert condition == "IsProd", condition
        return _resolve(if_true if stage == "prod" else if_false, stage, refs)
    if "Ref" in value:
        return refs[value["Ref"]]
    return {k: _resolve(v, stage, refs) for k, v in value.items()}


def create_user_pool(endpoint: str, stage: str, cognito: dict) -> dict[str, str]:
    """Create the template's user pool and app client in moto's cognito-idp (once per stack:
    found again by name), and return the environment naming them, as the outputs would."""
    import boto3

    client = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    refs = {}
    for logical_id, resource in cognito["resources"].items():
        props = _resolve(resource["Properties"], stage, refs)
        if resource["Type"] == "AWS::Cognito::UserPool":
            name = props.pop("UserPoolName")
            pools = client.list_user_pools(MaxResults=60)["UserPools"]
            found = [p["Id"] for p in pools if p["Name"] == name]
            refs[logical_id] = found[0] if found else client.create_user_pool(PoolName=name, **props)["UserPool"]["Id"]
        elif resource["Type"] == "AWS::Cognito::UserPoolClient":
            clients = client.list_user_pool_clients(UserPoolId=props["UserPoolId"], MaxResults=60)
            found = [c["ClientId"] for c in clients["UserPoolClients"] if c["ClientName"] == props["ClientName"]]
            refs[logical_id] = found[0] if found else client.create_user_pool_client(**props)["UserPoolClient"]["ClientId"]
        else:
            raise ValueError(f"{logical_id}: {resource['Type']} is not created locally")
    env = {output_env_var(name): refs[output["Value"]["Ref"]] for name, output in cognito["outputs"].items()}
    # The pool's signing keys and the app's sign-up and sign-in are served by moto locally.
    return {**env, "FOULE_COGNITO_ENDPOINT": endpoint}


def cognito_config(env: dict[str, str]) -> dict[str, str]:
    """Where the worker app signs up and in: the `cognito` object of its config.json."""
    return {"endpoint": env["FOULE_COGNITO_ENDPOINT"], "region": env["AWS_REGION"],
            "user_pool_id": env["FOULE_USER_POOL_ID"], "client_id": env["FOULE_USER_POOL_CLIENT_ID"]}


def enable_time_to_live(endpoint: str, stage: str) -> None:
    """moto's CloudFormation ignores a table's TimeToLiveSpecification: apply it as AWS would,
    so the local tables say what the template says (moto never deletes expired items itself)."""
    import boto3

    from tools.package import load_cfn

    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    for resource in load_cfn(TEMPLATE)["Resources"].values():
        spec = resource.get("Properties", {}).get("TimeToLiveSpecification")
        if resource["Type"] == "AWS::DynamoDB::Table" and spec:
            table = resource["Properties"]["TableName"]["Fn::Sub"].replace("${Stage}", stage)
            if dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["TimeToLiveStatus"] != "ENABLED":
                dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification=spec)


def start_worker_app(port: int, api_url: str, env: dict):
    """The worker app (web/worker/) on 127.0.0.1:port, with its config.json naming the API and
    the user pool, from a thread of this process; returns the server (call .shutdown())."""
    from tools import web_server

    return web_server.serve(port, web_server.app_config(api_url, cognito_config(env)))


def create_usage_plans(endpoint: str, stage: str) -> str:
    """The usage plans and API keys of infra/aws.yaml, created in moto through API Gateway's API
    (moto's CloudFormation cannot deploy them with the API they belong to); returns their name
    prefix (FOULE_USAGE_PLANS). They have no API stage here: moto stores plans and keys, and
    enforces nothing (locally the API's DynamoDB limiter does). Creates only what is missing."""
    import boto3

    from tools.package import load_cfn

    aws = load_cfn(AWS_TEMPLATE)

    def resolve(value):
        if isinstance(value, dict) and "Fn::Sub" in value:
            return value["Fn::Sub"].replace("${Stage}", stage)
        if isinstance(value, dict) and "Fn::FindInMap" in value:
            mapping, _, name = value["Fn::FindInMap"]
            return aws["Mappings"][mapping][stage][name]
        if isinstance(value, dict):
            return {k[0].lower() + k[1:]: resolve(v) for k, v in value.items()}
        return value

    client = boto3.client("apigateway", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    plans = {p["name"]: p["id"] for p in client.get_usage_plans()["items"]}
    api_keys = {k["name"]: k["id"] for k in client.get_api_keys()["items"]}
    made = {}
    for logical_id, resource in aws["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::ApiGateway::UsagePlan":
            name = resolve(props["UsagePlanName"])
            made[logical_id] = plans.get(name) or client.create_usage_plan(
                name=name, description=props["Description"], throttle=resolve(props["Throttle"]),
                quota=resolve(props["Quota"]))["id"]
        elif resource["Type"] == "AWS::ApiGateway::ApiKey":
            name = resolve(props["Name"])
            made[logical_id] = api_keys.get(name) or client.create_api_key(
                name=name, value=resolve(props["Value"]), description=props["Description"],
                enabled=props["Enabled"])["id"]
    for resource in aws["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::UsagePlanKey":
            plan_id, key_id = (made[resource["Properties"][p]["Ref"]] for p in ("UsagePlanId", "KeyId"))
            if key_id not in {k["id"] for k in client.get_usage_plan_keys(usagePlanId=plan_id)["items"]}:
                client.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
    return f"foule-{stage}"


def aggregation_loop(interval: float, stop) -> None:
    """Stands in for the EventBridge schedule (chalice local never fires @app.schedule). Each
    run writes the scheduled function's own log lines (chalicelib.observability)."""
    from chalicelib import observability
    from chalicelib.services import housekeeping

    observability.configure_logging()
    while not stop():
        try:
            housekeeping.run(time_budget_seconds=60)
        except Exception as exc:  # keep the loop alive; the next pass retries
            print(f"[aggregator] pass failed: {exc!r}", flush=True)
        for _ in range(int(interval * 10)):
            if stop():
                return
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("FOULE_API_PORT", 8000)))
    parser.add_argument("--app-port", type=int, default=int(os.environ.get("FOULE_APP_PORT", 8080)))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("FOULE_MOTO_PORT", 5055)))
    parser.add_argument("--aggregate-every", type=float, default=3.0, help="seconds between aggregator passes")
    args = parser.parse_args()

    moto = start_moto(args.moto_port)
    children = [moto]
    try:
        env = deploy_stack(f"http://127.0.0.1:{args.moto_port}")
        os.environ.update(env)
        from chalicelib import auth  # after the environment names the tables

        keys = {role: auth.create_key(role, name=f"demo {role}")[0] for role in ("admin", "requester", "worker")}
        api_url = f"http://127.0.0.1:{args.api_port}"
        LOCAL_DIR.mkdir(exist_ok=True)
        cognito = cognito_config(env)
        (LOCAL_DIR / "stack.json").write_text(json.dumps({"api": api_url, "keys": keys, "env": env,
                                                          "cognito": cognito}, indent=2))
        app_url = f"http://127.0.0.1:{args.app_port}/"
        chalice = start_chalice_local(args.api_port, {**os.environ, **env, "FOULE_APP_ORIGINS": app_url.rstrip("/")})
        children.append(chalice)
        start_worker_app(args.app_port, api_url, env)
        print(f"\nFoule is running at {api_url}  (OpenAPI: {api_url}/openapi.json)\n"
              f"  worker app:    {app_url}\n"
              f"  admin key:     {keys['admin']}\n  requester key: {keys['requester']}\n"
              f"  worker key:    {keys['worker']}\n"
              f"  moto server:   http://127.0.0.1:{args.moto_port}\n"
              f"  workers' user pool (Cognito): {cognito['user_pool_id']}, app client {cognito['client_id']}, "
              f"endpoint {cognito['endpoint']}\n"
              f"  CORS origin:   {app_url.rstrip('/')} (the worker app's)\n"
              f"The aggregator runs every {args.aggregate_every:g} s. `make demo` in another terminal "
              f"replays a real dataset. Ctrl-C stops everything.\n", flush=True)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        # Ctrl-C must stop the stack even when started from a shell that ignores SIGINT in
        # background jobs (Python keeps an ignored SIGINT ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        aggregation_loop(args.aggregate_every, stop=lambda: bool(stopping) or chalice.poll() is not None)
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
