"""The dashboard and the publication-lag alarm of infra/aws.yaml read the metrics the code
writes (chalicelib/observability.py): same namespace, names and dimensions."""
import json
import re

from chalicelib import observability

EMITTED = {(observability.NAMESPACE, name) for name in (
    observability.ANSWERS_ACCEPTED, observability.LEASES_GRANTED, observability.ERRORS,
    observability.REQUEST_MS, observability.AGGREGATION_MS, observability.PUBLICATION_LAG_MS,
    observability.SCHEDULED_PASS_MS)}


def dashboard_body(aws_template) -> dict:
    template, variables = aws_template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([^}!]+)\}", template))
    assert names <= set(variables) | {"AWS::Region"}, names - set(variables)
    return json.loads(re.sub(r"\$\{([^}!]+)\}", lambda m: f"x-{m[1]}", template))


def test_the_alarm_watches_the_lag_the_aggregator_writes(aws_template):
    alarm = aws_template["Resources"]["PublicationLagAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (observability.NAMESPACE, observability.PUBLICATION_LAG_MS)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "scheduler"}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_dashboard_shows_only_metrics_that_exist(aws_template):
    widgets = dashboard_body(aws_template)["widgets"]
    shown = set()
    for widget in widgets:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):  # a SEARCH expression
                assert f'MetricName="{observability.ERRORS}"' in row[0]["expression"]
                assert "{" + observability.NAMESPACE + ",service,code}" in row[0]["expression"]
                shown.add((observability.NAMESPACE, observability.ERRORS))
            elif row[0] == observability.NAMESPACE:
                shown.add((row[0], row[1]))
                assert row[2] == "service" and row[3] in ("api", "scheduler"), row
    assert shown <= EMITTED
    assert {observability.ANSWERS_ACCEPTED, observability.LEASES_GRANTED, observability.ERRORS,
            observability.AGGREGATION_MS, observability.PUBLICATION_LAG_MS} <= {name for _, name in shown}
