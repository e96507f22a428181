"""The code and infra/template.yaml agree: every table, key, index and attribute the pynamodb
models expect is defined by the template, under the name the app reads from the environment,
and the template defines nothing the models do not use."""
import copy

import pytest

from chalicelib import settings as settings_module
from chalicelib.models import ALL_MODELS
from chalicelib.settings import settings
from tools import local_stack, package


def _outputs_by_env_var(template: dict) -> dict[str, str]:
    """env var -> logical id of the resource the output names (Value: !Ref X)."""
    outputs = {}
    for name, output in template["Outputs"].items():
        value = output["Value"]
        assert isinstance(value, dict) and set(value) == {"Ref"}, f"output {name} is not a !Ref"
        outputs[local_stack.output_env_var(name)] = value["Ref"]
    return outputs


def _key_schema(entries) -> dict[str, str]:
    return {e["KeyType"]: e["AttributeName"] for e in entries}


def _table_of(model, template) -> tuple[str, dict]:
    by_env = _outputs_by_env_var(template)
    table_key = next(k for k, v in settings.tables.items() if v == model.Meta.table_name)
    env_var = settings_module.table_env_var(table_key)
    assert env_var in by_env, f"{model.__name__}: no template output gives {env_var}"
    logical_id = by_env[env_var]
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::DynamoDB::Table"
    return logical_id, resource["Properties"]


def test_every_setting_has_an_output(stateful_template):
    by_env = _outputs_by_env_var(stateful_template)
    wanted = {settings_module.table_env_var(t) for t in settings_module.TABLES} | {"FOULE_RESULTS_BUCKET", "FOULE_MEDIA_BUCKET"}
    assert wanted <= set(by_env), f"missing outputs for {sorted(wanted - set(by_env))}"
    assert stateful_template["Resources"][by_env["FOULE_RESULTS_BUCKET"]]["Type"] == "AWS::S3::Bucket"
    assert stateful_template["Resources"][by_env["FOULE_MEDIA_BUCKET"]]["Type"] == "AWS::S3::Bucket"


def test_models_use_the_deployed_table_names():
    """The environment came from the stack deployed into moto (tests/conftest.py)."""
    for model in ALL_MODELS:
        assert model.Meta.table_name in settings.tables.values()
        assert model.exists(), f"{model.__name__}: table {model.Meta.table_name} was not created"


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_model_matches_template(model, stateful_template):
    logical_id, props = _table_of(model, stateful_template)
    schema = model._get_schema()
    definitions = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}

    assert _key_schema(props["KeySchema"]) == _key_schema(schema["key_schema"]), logical_id
    # every attribute the model keys or indexes on is defined, with the model's type
    expected = {d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]}
    for index in schema["global_secondary_indexes"]:
        expected.update({d["AttributeName"]: d["AttributeType"] for d in index["attribute_definitions"]})
    assert definitions == expected, f"{logical_id}: AttributeDefinitions differ from the model's"

    template_indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
    model_indexes = {i["index_name"]: i for i in schema["global_secondary_indexes"]}
    assert set(template_indexes) == set(model_indexes), f"{logical_id}: global secondary indexes differ"
    for name, index in model_indexes.items():
        assert _key_schema(template_indexes[name]["KeySchema"]) == _key_schema(index["key_schema"]), name
        projection = template_indexes[name]["Projection"]
        assert projection["ProjectionType"] == index["projection"]["ProjectionType"], name
        assert sorted(projection.get("NonKeyAttributes", [])) == \
            sorted(index["projection"].get("NonKeyAttributes", [])), name
    assert not props.get("LocalSecondaryIndexes") and not schema["local_secondary_indexes"]


def test_no_table_without_a_model(stateful_template):
    used = {_table_of(model, stateful_template)[0] for model in ALL_MODELS}
    tables = {k for k, r in stateful_template["Resources"].items() if r["Type"] == "AWS::DynamoDB::Table"}
    assert tables == used


def test_stateful_resources_are_protected(stateful_template):
    for logical_id, resource in stateful_template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
            assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
            assert props["SSESpecification"] == {"SSEEnabled": True}
            assert props["DeletionProtectionEnabled"] == {"Fn::If": ["IsProd", True, False]}
        if resource["Type"] in ("AWS::DynamoDB::Table", "AWS::S3::Bucket"):
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
    bucket = stateful_template["Resources"]["ResultsBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-superseded-runs"]["ExpirationInDays"] == {"Ref": "RunRetentionDays"}
    policy = stateful_template["Resources"]["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in policy["Statement"])
    media = stateful_template["Resources"]["MediaBucket"]["Properties"]  # task media: private
    assert all(media["PublicAccessBlockConfiguration"].values())
    media_policy = stateful_template["Resources"]["MediaBucketPolicy"]["Properties"]["PolicyDocument"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in media_policy["Statement"])


def test_merge_template_wires_environment_and_keeps_one_source(stateful_template):
    merged = package.merge_template("prod")
    assert merged["Parameters"]["Stage"]["Default"] == "prod"
    by_env = _outputs_by_env_var(stateful_template)
    # The deployment's secret (chalicelib/sealing.py) goes to the functions that seal, by ARN.
    secret = {"FOULE_SECRET_ARN": {"Ref": "DeploymentSecret"}}
    sealing_functions = {"APIHandler", "Aggregator"}
    # The usage plans' prefix to the functions that mirror keys (the API) or name them (the
    # authorizer); the API's own limiter is off where the plans enforce.
    plans = {"FOULE_USAGE_PLANS": {"Fn::Sub": "foule-${Stage}"}}
    # CORS for the worker app's CloudFront origin only (tests/infra/test_infra_app.py).
    app = {"FOULE_APP_ORIGINS": package.APP_ORIGIN}
    extra = {"APIHandler": secret | plans | app | {"FOULE_RATE_LIMITER": "signed-in"}, "Aggregator": secret,
             "ApiKey": plans}
    assert set(extra) == set(package.FUNCTIONS) and sealing_functions <= {f for f in extra if "FOULE_SECRET_ARN" in extra[f]}
    for function in package.FUNCTIONS:
        variables = merged["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables == {env: {"Ref": logical} for env, logical in by_env.items()} | extra[function], function
    assert merged["Resources"]["DeploymentSecret"]["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    media_rules = merged["Resources"]["MediaBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert [rule["AllowedOrigins"] for rule in media_rules] == [[package.APP_ORIGIN]]
    for logical_id, resource in stateful_template["Resources"].items():
        if logical_id == "MediaBucket":  # but for its CORS origin, the app's
            resource = copy.deepcopy(resource)
            resource["Properties"]["CorsConfiguration"]["CorsRules"] = media_rules
        assert merged["Resources"][logical_id] == resource  # template.yaml's, untouched
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert f"{logical_id}ThrottleAlarm" in merged["Resources"]


def test_policy_files_are_rendered_from_aws_yaml():
    assert package.stale_policies() == [], "run `python -m tools.package policies`"


def test_results_prefix_matches_the_policies(aws_template):
    """The IAM policies grant the results prefix the app is configured with."""
    import json

    config = json.loads((package.CHALICE_DIR / "config.json").read_text())
    prefix = config["environment_variables"]["FOULE_RESULTS_PREFIX"].strip("/")
    for role in ("ApiHandlerRole", "AggregatorRole"):
        statements = package.role_policy(aws_template, role)["Statement"]
        s3 = [s for s in statements if any(a.startswith("s3:") for a in s["Action"])]
        # (the media bucket's grants are its own: services/media.py, under media/)
        s3 = [s for s in s3 if "MediaBucket" not in json.dumps(s["Resource"])]
        for statement in s3:
            resource = statement["Resource"]
            if "Fn::Sub" in resource:
                assert resource["Fn::Sub"].endswith(f"/{prefix}/*"), statement
            else:
                assert statement["Condition"]["StringLike"]["s3:prefix"] == f"{prefix}/*"


def test_a_usage_plan_per_role_and_one_for_refused_keys_on_the_api_stage(aws_template):
    """The plans services.usage_plans puts keys in, by the names it looks for."""
    from chalicelib.services import usage_plans

    plans = {r["Properties"]["UsagePlanName"]["Fn::Sub"]: r["Properties"] for r in aws_template["Resources"].values()
             if r["Type"] == "AWS::ApiGateway::UsagePlan"}
    assert set(plans) == {f"foule-${{Stage}}-{role}"
                          for role in (*usage_plans.ROLES, usage_plans.ANONYMOUS, usage_plans.SIGNED_IN)}
    for plan in plans.values():
        assert plan["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}]
        assert set(plan["Throttle"]) == {"RateLimit", "BurstLimit"} and plan["Quota"]["Period"] == "DAY"
    anonymous_key = aws_template["Resources"]["AnonymousApiKey"]["Properties"]
    assert anonymous_key["Value"] == {"Fn::Sub": "foule-${Stage}-anonymous"}
    signed_in_key = aws_template["Resources"]["SignedInApiKey"]["Properties"]
    assert signed_in_key["Value"] == {"Fn::Sub": f"foule-${{Stage}}-{usage_plans.SIGNED_IN}"}
    assert aws_template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-api-key-source"] == "AUTHORIZER"


def test_every_authorized_method_requires_the_usage_plan_key_and_no_public_one(tmp_path):
    """API Gateway counts a request against its key's plan only on methods that require an API
    key: tools/package.py adds the requirement to every method the authorizer guards."""
    package.package("prod", tmp_path, template_only=True)
    resources = package.load_cfn(tmp_path / "sam.yaml")["Resources"]
    assert resources["ApiKey"]["Type"] == "AWS::Serverless::Function"  # the authorizer's Lambda
    body = resources["RestAPI"]["Properties"]["DefinitionBody"]
    # The authorizer's own definition survives (chalice overwrites it: see tools/package.py).
    authorizer = body["securityDefinitions"][package.AUTHORIZER]
    assert authorizer["x-amazon-apigateway-authtype"] == "custom" and authorizer["name"] == "Authorization"
    assert "${ApiKey.Arn}" in authorizer["x-amazon-apigateway-authorizer"]["authorizerUri"]["Fn::Sub"]
    assert body["securityDefinitions"][package.USAGE_PLAN_KEY] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    assert body["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"
    guarded = public = 0
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            names = {name for entry in operation.get("security", []) for name in entry}
            assert names in (set(), {package.AUTHORIZER, package.USAGE_PLAN_KEY}), (path, method, names)
            guarded, public = guarded + bool(names), public + (not names)
    assert guarded > 40 and public >= 1, (guarded, public)
