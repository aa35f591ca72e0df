"""The two dashboards: the overview fits one screen and shows every alarm, the detailed one has no
gaps, they link to each other, and every metric and alarm they reference exists in the templates."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from stacks.operations.dashboard import OVERVIEW_ROWS
from tests.conftest import ENVIRONMENTS
from tests.infra.conftest import template_of
from tests.infra.test_monitoring import by_stack_name, every_alarm, produced

AWS_NAMESPACES = {"AWS/States", "AWS/Lambda", "AWS/SQS", "AWS/SageMaker", "AWS/Rekognition"}


def rendered_body(dashboard: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dashboard body as JSON, each CloudFormation reference replaced by a ``<ref:N>``
    placeholder; and the placeholders' references."""
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    references: dict[str, Any] = {}
    text = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        else:
            key = f"<ref:{len(references)}>"
            references[key] = part
            text.append(key)
    return json.loads("".join(text)), references


def app_services(stacks: dict[str, dict[str, Any]]) -> dict[str, str]:
    """POWERTOOLS_SERVICE_NAME -> POWERTOOLS_METRICS_NAMESPACE of every function of the app."""
    services = {}
    for template in stacks.values():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                variables = resource["Properties"]["Environment"]["Variables"]
                services[variables["POWERTOOLS_SERVICE_NAME"]] = variables[
                    "POWERTOOLS_METRICS_NAMESPACE"
                ]
    return services


RESOURCE_DIMENSIONS = {
    "StateMachineArn": "AWS::StepFunctions::StateMachine",
    "FunctionName": "AWS::Lambda::Function",
    "QueueName": "AWS::SQS::Queue",
}


def dashboards(monitoring: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Dashboard name -> resource."""
    return {
        r["Properties"]["DashboardName"]: r
        for r in monitoring["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    }


def resource_of(stacks, monitoring, reference: Any) -> dict[str, Any]:
    if "Ref" in reference:
        return monitoring["Resources"][reference["Ref"]]
    if "Fn::GetAtt" in reference:
        return monitoring["Resources"][reference["Fn::GetAtt"][0]]
    return produced(stacks, reference)


def height(body: dict[str, Any]) -> int:
    return max(w["y"] + w["height"] for w in body["widgets"])


def coverage(body: dict[str, Any]) -> dict[tuple[int, int], int]:
    """How many widgets cover each grid cell."""
    cells: dict[tuple[int, int], int] = {}
    for w in body["widgets"]:
        for x in range(w["x"], w["x"] + w["width"]):
            for y in range(w["y"], w["y"] + w["height"]):
                cells[(x, y)] = cells.get((x, y), 0) + 1
    return cells


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_overview_fits_one_screen_and_starts_with_every_alarm(templates, environments, env):
    stacks = by_stack_name(templates, environments, env)
    monitoring = template_of(templates, env, "Monitoring").to_json()
    body, references = rendered_body(dashboards(monitoring)[f"imgclf-{env}-overview"])
    assert height(body) <= OVERVIEW_ROWS == 18
    assert set(coverage(body).values()) == {1}
    assert len(coverage(body)) == 24 * height(body)  # no gap either
    alarm_widget = body["widgets"][0]
    assert alarm_widget["type"] == "alarm"
    assert alarm_widget["y"] == 0
    shown = [
        resource_of(stacks, monitoring, references[a]) for a in alarm_widget["properties"]["alarms"]
    ]
    names = sorted(r["Properties"]["AlarmName"] for r in shown)
    assert names == sorted(a["Properties"]["AlarmName"] for _, a in every_alarm(stacks))
    # One row of health numbers per pipeline, the verdict of the last evaluation among them.
    titles = [w["properties"].get("title", "") for w in body["widgets"]]
    for expected in (
        "Rekognition training runs",
        "Rekognition: last evaluation",
        "Rekognition backlog",
        "Rekognition model",
        "Rekognition model cost",
        "SageMaker endpoint",
        "SageMaker classification runs",
        "SageMaker training runs",
    ):
        assert expected in titles
    (verdict,) = [w for w in body["widgets"] if w["type"] == "custom"]
    assert verdict["properties"]["params"]["view"] == "verdict"
    numbers = [w for w in body["widgets"] if w["type"] == "metric"]
    assert all(w["properties"]["view"] == "singleValue" for w in numbers)
    text = json.dumps(body)
    for metric in ("InferenceUnitsServing", "CapacityUpdateFailures", "InvocationsPerInstance"):
        assert metric in text


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_detailed_dashboard_has_no_gaps(templates, env):
    monitoring = template_of(templates, env, "Monitoring").to_json()
    body, _ = rendered_body(dashboards(monitoring)[f"imgclf-{env}-operations"])
    cells = coverage(body)
    assert set(cells.values()) == {1}, "overlapping widgets"
    assert len(cells) == 24 * height(body), "an empty area"
    text = json.dumps(body)
    assert "InferenceUnitsServing" in text
    assert "CapacityUpdateFailures" in text
    assert "LabelF1" not in text  # the per-label SEARCH mixed versions over a too short range
    searches = [
        w
        for w in body["widgets"]
        if "SEARCH" in json.dumps(w) and "Evaluated versions" in w["properties"].get("title", "")
    ]
    assert len(searches) == 2
    assert all(widget["properties"]["start"] == "-P30D" for widget in searches)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_dashboards_link_to_each_other(templates, env):
    monitoring = template_of(templates, env, "Monitoring").to_json()
    bodies = {name: rendered_body(d)[0] for name, d in dashboards(monitoring).items()}
    overview, detail = f"imgclf-{env}-overview", f"imgclf-{env}-operations"
    assert sorted(bodies) == sorted([overview, detail])

    def links(body: dict[str, Any]) -> str:
        return " ".join(w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text")

    assert f"#dashboards/dashboard/{detail})" in links(bodies[overview])
    assert f"#dashboards/dashboard/{overview})" in links(bodies[detail])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_dashboard_metric_refers_to_something_the_app_creates(templates, environments, env):
    stacks = by_stack_name(templates, environments, env)
    monitoring = template_of(templates, env, "Monitoring").to_json()
    services = app_services(stacks)
    config = environments[env].rekognition_inference.inference.config
    checked = 0
    customs = []
    for dashboard in dashboards(monitoring).values():
        body, references = rendered_body(dashboard)
        for widget in body["widgets"]:
            metrics = widget.get("properties", {}).get("metrics", [])
            ids = {m[-1]["id"] for m in metrics if isinstance(m[-1], dict) and "id" in m[-1]}
            for metric in metrics:
                options = metric[-1] if isinstance(metric[-1], dict) else {}
                if "expression" in options:
                    expression = options["expression"]
                    for namespace, service in re.findall(
                        r"SEARCH\('\{([^,]+),[^}]*\}[^']*?(?:service=\"([^\"]+)\")?", expression
                    ):
                        assert namespace in AWS_NAMESPACES or namespace in services.values()
                        if service:
                            assert services[service] == namespace
                        checked += 1
                    if "SEARCH" not in expression:
                        # Every name an expression uses is a metric of the same widget.
                        used = set(re.findall(r"\b([a-z][a-zA-Z0-9_]*)\b", expression))
                        used -= {"if", "and", "or"}
                        assert used <= ids, (expression, ids)
                    continue
                namespace, name, *rest = [part for part in metric if not isinstance(part, dict)]
                dimensions = dict(zip(rest[::2], rest[1::2], strict=True))
                if namespace in AWS_NAMESPACES:
                    for key, kind in RESOURCE_DIMENSIONS.items():
                        if key in dimensions:
                            resource = resource_of(stacks, monitoring, references[dimensions[key]])
                            assert resource["Type"] == kind, (name, dimensions)
                    if namespace == "AWS/SageMaker":
                        assert dimensions["EndpointName"] == f"imgclf-{env}-classifier"
                else:
                    assert namespace == f"ImageClassification/{env}"
                    assert services[dimensions["service"]] == namespace, dimensions
                checked += 1
        customs += [(w, references) for w in body["widgets"] if w["type"] == "custom"]
    assert checked > 60
    # The custom widgets are backed by the app's own renderer, in full and as one line.
    views = set()
    for custom, references in customs:
        renderer = monitoring["Resources"][
            references[custom["properties"]["endpoint"]]["Fn::GetAtt"][0]
        ]
        assert renderer["Properties"]["Handler"] == "evaluation_widget.handler.lambda_handler"
        params = custom["properties"]["params"]
        assert params["project"] == config.rekognition.project_name
        views.add(params.get("view", "full"))
    assert views == {"full", "verdict"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_evaluation_widget_reads_only_the_projects_reports(templates, environments, env):
    monitoring = template_of(templates, env, "Monitoring").to_json()
    project = environments[env].rekognition_inference.inference.config.rekognition.project_name
    text = json.dumps(
        [
            r["Properties"]["PolicyDocument"]
            for r in monitoring["Resources"].values()
            if r["Type"] == "AWS::IAM::Policy"
            and "Renderer" in json.dumps(r["Properties"]["Roles"])
        ]
    )
    assert f"/reports/{project}/*" in text
    assert "s3:PutObject" not in text
    assert f'"reports/{project}/*"' in text  # ListBucket limited by s3:prefix
