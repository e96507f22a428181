"""The worker app in AWS (infra/aws.yaml): a private bucket that only its CloudFront
distribution reads, the API's and the media bucket's CORS limited to that distribution's
origin, and `make deploy`'s publication step (tools/publish_app.py) run against moto server."""
import json
import uuid

import boto3
import pytest

from tools import package, publish_app
from tools.web_server import WORKER_APP

APP_ORIGIN = {"Fn::Sub": "https://${AppDistribution.DomainName}"}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("package")
    package.package("prod", out, template_only=True)
    return package.load_cfn(out / "sam.yaml")


def test_the_app_bucket_is_private_and_only_its_distribution_reads_it(aws_template):
    resources = aws_template["Resources"]
    bucket = resources["AppBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "WebsiteConfiguration" not in bucket  # not a public website endpoint
    statements = resources["AppBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [{
        "Sid": "AppDistributionReads", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${AppBucket.Arn}/*"},
        "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": (
            "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${AppDistribution}")}}}}]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)


def test_the_distribution_serves_the_app_over_https_with_short_lived_entry_points(aws_template):
    resources = aws_template["Resources"]
    config = resources["AppDistribution"]["Properties"]["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    [origin] = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["AppBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["AppOriginAccessControl", "Id"]}
    oac = resources["AppOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    behaviors = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert {b["ViewerProtocolPolicy"] for b in behaviors} <= {"redirect-to-https", "https-only"}
    assert {b["AllowedMethods"] == ["GET", "HEAD"] for b in behaviors} == {True}
    assert all(b["ResponseHeadersPolicyId"] == {"Ref": "AppSecurityHeadersPolicy"} for b in behaviors)

    def max_ttl(behavior):
        return resources[behavior["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]["MaxTTL"]

    short = {b["PathPattern"].lstrip("/"): max_ttl(b) for b in config["CacheBehaviors"]}
    assert set(short) == publish_app.SHORT_LIVED and max(short.values()) <= 60
    assert max_ttl(config["DefaultCacheBehavior"]) >= 86400
    outputs = aws_template["Outputs"]
    assert outputs["AppUrl"]["Value"] == APP_ORIGIN


def test_the_api_and_the_media_bucket_allow_only_the_apps_origin(packaged):
    resources = packaged["Resources"]
    assert resources["APIHandler"]["Properties"]["Environment"]["Variables"]["FOULE_APP_ORIGINS"] == APP_ORIGIN
    preflights = [methods["options"] for methods in resources["RestAPI"]["Properties"]["DefinitionBody"]["paths"].values()
                  if "options" in methods]
    assert len(preflights) >= 20  # every worker route the app calls has one
    for preflight in preflights:
        [response] = preflight["x-amazon-apigateway-integration"]["responses"].values()
        assert response["responseParameters"]["method.response.header.Access-Control-Allow-Origin"] == {
            "Fn::Sub": "'https://${AppDistribution.DomainName}'"}
    # The gateway's own errors (the authorizer's 401 on an expired token, throttling) too,
    # or the app could not read them.
    for name, response in resources["RestAPI"]["Properties"]["GatewayResponses"].items():
        headers = response["ResponseParameters"]["Headers"]
        assert headers["Access-Control-Allow-Origin"] == {"Fn::Sub": "'https://${AppDistribution.DomainName}'"}, name
    assert package.PACKAGE_TIME_ORIGIN not in json.dumps(packaged) and "'*'" not in json.dumps(packaged)
    media = resources["MediaBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert [rule["AllowedOrigins"] for rule in media] == [[APP_ORIGIN]]
    assert "MediaCorsOrigins" not in packaged.get("Parameters", {})


def _aws(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_make_deploy_publishes_every_file_with_its_type_and_the_stacks_config(moto_endpoint, monkeypatch):
    """The whole `python -m tools.publish_app --stack-name` step against moto server: a stack
    with the outputs the packaged template declares, a bucket with a file the app no longer has."""
    name = f"foule-apptest-{uuid.uuid4().hex[:8]}"
    cloudfront = _aws("cloudfront", moto_endpoint)
    distribution = cloudfront.create_distribution(DistributionConfig={
        "CallerReference": name, "Comment": "", "Enabled": True, "DefaultRootObject": "index.html",
        "Origins": {"Quantity": 1, "Items": [{"Id": "app", "DomainName": f"{name}.s3.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "app", "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]
    outputs = {"EndpointURL": "https://abc123.execute-api.us-east-1.amazonaws.com/api/",
               "FouleUserPoolId": "us-east-1_Pool1", "FouleUserPoolClientId": "client123",
               "AppUrl": f"https://{distribution['DomainName']}", "AppDistributionId": distribution["Id"]}
    template = {"Resources": {"AppBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name}}},
                "Outputs": {"AppBucketName": {"Value": {"Ref": "AppBucket"}},
                            **{key: {"Value": value} for key, value in outputs.items()}}}
    cloudformation = _aws("cloudformation", moto_endpoint)
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1})
    s3 = _aws("s3", moto_endpoint)
    s3.put_object(Bucket=name, Key="js/removed.js", Body=b"old")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)

    assert publish_app.main(["--stack-name", name]) == 0

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]}
    files = {p.relative_to(WORKER_APP).as_posix(): p for p in WORKER_APP.rglob("*") if p.is_file()}
    assert keys == set(files) | {"config.json"}
    expected_types = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".png": "image/png",
                      ".svg": "image/svg+xml", ".webmanifest": "application/manifest+json"}
    for key, path in files.items():
        got = s3.get_object(Bucket=name, Key=key)
        assert got["ContentType"] == expected_types[path.suffix], key
        assert got["Body"].read() == path.read_bytes(), key
        assert got["CacheControl"] == ("no-cache" if key in {"index.html", "sw.js"} else
                                       "public, max-age=3600, s-maxage=86400"), key
    config = s3.get_object(Bucket=name, Key="config.json")
    assert (config["ContentType"], config["CacheControl"]) == ("application/json", "no-cache")
    assert json.loads(config["Body"].read()) == {
        "api_url": "https://abc123.execute-api.us-east-1.amazonaws.com/api",
        "cognito": {"endpoint": "https://cognito-idp.us-east-1.amazonaws.com/", "region": "us-east-1",
                    "user_pool_id": "us-east-1_Pool1", "client_id": "client123"}}
    invalidations = cloudfront.list_invalidations(DistributionId=distribution["Id"])["InvalidationList"]
    assert invalidations["Quantity"] == 1
