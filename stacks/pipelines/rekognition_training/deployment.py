"""Step 6 of the workflow, once the gate passed: start, publish, retire the previous, notify.

``ReadCurrentModel`` (the SSM parameter inference reads; absent: ``NoCurrentModel``) ->
``StartModel`` and a bounded poll until RUNNING -> ``PublishModel`` (the new version's ARN to
the parameter) -> ``StopPreviousModel`` (blue/green, when configured and there is another
version of this project) -> ``NotifyDeployed`` -> ``Deployed``. A stop that fails after its
retries does not undo the deployment: the run still ends DEPLOYED, with a warning of what the
old version costs and how to stop it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Aws, Duration
from aws_cdk import aws_stepfunctions as sfn

from stacks.config import EnvironmentConfig
from stacks.pipelines.rekognition_training.polling import _poll_version, _Scope, _sdk
from stacks.pipelines.rekognition_training.statuses import START

SSM_TRANSIENT_ERRORS: tuple[str, ...] = (
    "Ssm.ThrottlingException",
    "Ssm.InternalServerErrorException",
    "Ssm.TooManyUpdatesException",
)
NO_PREVIOUS_MODEL = "none"
#: What a running Custom Labels model costs per inference unit and hour (USD, about; us-east-1).
INFERENCE_UNIT_HOUR_USD = 4


@dataclass(frozen=True)
class DeployOrigin:
    """Where a deployed version came from, beyond its gate: what the promotion workflow adds.

    ``summary`` (a ``States.Format`` template whose ``{}`` take ``values``) is the notification's
    first line of the deployment; ``outcome`` fields are added to the run's output.
    """

    summary: str = ""
    values: Sequence[str] = ()
    outcome: Mapping[str, str] = field(default_factory=dict)


def _deploy(
    scope: _Scope,
    poll_seconds: int,
    max_polls: int,
    *,
    config: EnvironmentConfig,
    model_parameter_arn: str,
    origin: DeployOrigin | None = None,
) -> sfn.IChainable:
    """Start the version at ``$.version.arn`` (``$.job``: its project and version names;
    ``$.evaluation``: its gate, metrics and report), publish it to inference, retire the
    previous one, notify. The training and the promotion workflows deploy through this."""
    origin = origin or DeployOrigin()
    parameter = config.model_version_parameter
    no_current_model = sfn.Pass(
        scope.construct,
        "NoCurrentModel",
        parameters={"arn": NO_PREVIOUS_MODEL},
        result_path="$.previous",
    )
    read_current = _sdk(
        scope,
        "ReadCurrentModel",
        "getParameter",
        {"Name": parameter},
        service="ssm",
        iam_resources=[model_parameter_arn],
        result_selector={"arn.$": "$.Parameter.Value"},
        result_path="$.previous",
        transient=SSM_TRANSIENT_ERRORS,
        expected_errors={"Ssm.ParameterNotFoundException": no_current_model},
    )
    start = _sdk(
        scope,
        "StartModel",
        "startProjectVersion",
        {
            "ProjectVersionArn.$": "$.version.arn",
            "MinInferenceUnits": config.rekognition.min_inference_units,
            "MaxInferenceUnits": config.rekognition.max_inference_units,
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    publish = _sdk(
        scope,
        "PublishModel",
        "putParameter",
        {"Name": parameter, "Value.$": "$.version.arn", "Type": "String", "Overwrite": True},
        service="ssm",
        iam_resources=[model_parameter_arn],
        result_path=sfn.JsonPath.DISCARD,
        transient=SSM_TRANSIENT_ERRORS,
    )
    summary = origin.summary + (
        "Model version {} of project {} passed the quality gate and is RUNNING.\n"
        "Gate: {} = {} (threshold {}).\nMetrics: {}\nReport: {}\nInference now uses "
        "{} (SSM parameter " + parameter + "); previously {}."
    )
    values = [
        *origin.values,
        sfn.JsonPath.string_at("$.job.version_name"),
        sfn.JsonPath.string_at("$.job.project_name"),
        sfn.JsonPath.string_at("$.evaluation.gate.metric"),
        sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.evaluation.gate.value")),
        sfn.JsonPath.json_to_string(sfn.JsonPath.number_at("$.evaluation.gate.threshold")),
        sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.evaluation.metrics")),
        sfn.JsonPath.string_at("$.evaluation.report_uri"),
        sfn.JsonPath.string_at("$.version.arn"),
        sfn.JsonPath.string_at("$.previous.arn"),
    ]
    outcome = {
        "outcome": "DEPLOYED",
        "project_version_arn.$": "$.version.arn",
        "previous_version_arn.$": "$.previous.arn",
        "gate.$": "$.evaluation.gate",
        "metrics.$": "$.evaluation.metrics",
        "report_uri.$": "$.evaluation.report_uri",
        **origin.outcome,
    }
    deployed = sfn.Succeed(scope.construct, "Deployed")
    notify = scope.guard.notify(
        scope.construct, "NotifyDeployed", outcome="DEPLOYED", summary=summary, values=values
    )
    notify.next(sfn.Pass(scope.construct, "DeployedOutcome", parameters=outcome)).next(deployed)
    if config.rekognition_training.stop_previous_version:
        stop_previous = _sdk(
            scope,
            "StopPreviousModel",
            "stopProjectVersion",
            {"ProjectVersionArn.$": "$.previous.arn"},
            result_path=sfn.JsonPath.DISCARD,
            expected_errors={
                # Already stopped or deleted: nothing to retire.
                "Rekognition.ResourceInUseException": notify,
                "Rekognition.ResourceNotFoundException": notify,
            },
            catch=False,
        )
        # The new version runs and inference uses it: a stop that fails (after its
        # retries) does not undo the deployment. The run ends DEPLOYED and says, in the
        # notification and the output, that the old version still bills and how to stop it.
        still_running = _previous_model_still_running(scope, config)
        stop_previous.add_catch(
            still_running, errors=["States.ALL"], result_path="$.stop_previous_error"
        )
        still_running.next(
            scope.guard.notify(
                scope.construct,
                "NotifyDeployedWithWarning",
                outcome="DEPLOYED",
                summary=summary + "\nWARNING: {}",
                values=[*values, sfn.JsonPath.string_at("$.warning.message")],
            )
        ).next(
            sfn.Pass(
                scope.construct,
                "DeployedWithWarningOutcome",
                parameters={**outcome, "warning.$": "$.warning"},
            )
        ).next(deployed)
        stop_previous.next(notify)
        project_prefix = scope.project_resources[0].replace("/*", "/")
        publish.next(
            sfn.Choice(scope.construct, "PreviousModelToStop?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.not_(
                        sfn.Condition.string_equals("$.previous.arn", NO_PREVIOUS_MODEL)
                    ),
                    sfn.Condition.not_(
                        sfn.Condition.string_equals_json_path("$.previous.arn", "$.version.arn")
                    ),
                    sfn.Condition.string_matches("$.previous.arn", f"{project_prefix}*"),
                ),
                stop_previous,
            )
            .otherwise(notify)
        )
    else:
        publish.next(notify)
    running = _poll_version(
        scope,
        "Start",
        interval=Duration.seconds(poll_seconds),
        max_polls=max_polls,
        poll=START,
        result_path="$.deployment",
        then=publish,
    )
    read_current.next(start)
    no_current_model.next(start)
    start.next(running)
    return read_current


def _previous_model_still_running(scope: _Scope, config: EnvironmentConfig) -> sfn.Pass:
    """``$.warning``: the previous version still runs; what it costs, how to stop it."""
    units = config.rekognition.min_inference_units
    hourly = INFERENCE_UNIT_HOUR_USD * units
    previous = sfn.JsonPath.string_at("$.previous.arn")
    error = sfn.JsonPath.string_at("$.stop_previous_error.Error")
    cause = sfn.JsonPath.string_at("$.stop_previous_error.Cause")
    ops_command = sfn.JsonPath.format(
        f"python -m ops model stop --env {config.name} --version-arn {{}}", previous
    )
    cli_command = sfn.JsonPath.format(
        f"aws rekognition stop-project-version --project-version-arn {{}} --region {Aws.REGION}",
        previous,
    )
    plural = "s" if units > 1 else ""
    return sfn.Pass(
        scope.construct,
        "PreviousModelStillRunning",
        parameters={
            "previous_version_still_running": previous,
            "error": error,
            "cause": cause,
            "hourly_cost_usd": hourly,
            "stop_commands": sfn.JsonPath.array(ops_command, cli_command),
            "message": sfn.JsonPath.format(
                "The previous version {} is still RUNNING: stopping it failed ({}: {}). It "
                f"bills about ${INFERENCE_UNIT_HOUR_USD} per inference-unit hour, about "
                f"${hourly} per hour at the configured {units} minimum inference unit{plural}, "
                "until it is stopped: {} or {}",
                previous,
                error,
                cause,
                ops_command,
                cli_command,
            ),
        },
        result_path="$.warning",
    )
