"""What a Task's ``Resource`` calls: the API operation, its result, its error names, its IAM.

Optimized integrations are described by their Step Functions Developer Guide pages ("Call
SageMaker with Step Functions", "Invoke Lambda", "Publish to SNS", and each page's "IAM policies"
section); aws-sdk integrations by botocore's model of the named operation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from botocore.model import OperationModel

from shared.promotion import REJECTED_ERROR
from tests.contract import service_models as models

#: Error names every Task can raise (Amazon States Language, "Error names").
STATES_ERRORS = frozenset(
    {
        "States.ALL",
        "States.DataLimitExceeded",
        "States.ExceedToleratedFailureThreshold",
        "States.HeartbeatTimeout",
        "States.Http.Socket",
        "States.IntrinsicFailure",
        "States.ItemReaderFailed",
        "States.NoChoiceMatched",
        "States.ParameterPathFailure",
        "States.Permissions",
        "States.ResultPathMatchFailure",
        "States.ResultWriterFailed",
        "States.Runtime",
        "States.TaskFailed",
        "States.Timeout",
        "States.BranchFailed",
        "States.QueryEvaluationError",
    }
)

#: The Lambda integration's own error names (Step Functions Developer Guide, "Handle
#: transient Lambda service exceptions"); a function's own errors are its exception names.
LAMBDA_SERVICE_ERRORS = frozenset(
    {
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
    }
)

#: Optimized integrations: (error prefix, the service's catch-all exception name). They raise the
#: SDK's exception classes: modelled errors as ``<prefix>.<Shape>Exception``, others as the
#: catch-all (``SageMaker.AmazonSageMakerException`` for every SageMaker service error,
#: throttling included), and ``<prefix>.SdkClientException`` for client-side failures.
OPTIMIZED = {
    "lambda": ("Lambda", "Lambda.AWSLambdaException"),
    "sns": ("SNS", "SNS.AmazonSNSException"),
    "sagemaker": ("SageMaker", "SageMaker.AmazonSageMakerException"),
    "states": ("StepFunctions", "StepFunctions.AWSStepFunctionsException"),
    "sqs": ("SQS", "SQS.AmazonSQSException"),
}

#: Parameters an optimized integration accepts as JSON though the API models a string/blob.
JSON_MEMBERS = {("lambda", "Payload"), ("sns", "Message"), ("states", "Input")}

#: IAM actions an optimized integration needs beyond the operation's own (Developer Guide, the
#: integration page's "IAM policies" section).
OPTIMIZED_EXTRA_ACTIONS = {
    ("sagemaker", "CreateTrainingJob", ".sync"): (
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    ),
    ("states", "StartExecution", ".sync"): (
        "states:DescribeExecution",
        "states:StopExecution",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    ),
}
#: Optimized integrations that support the callback pattern ``.waitForTaskToken`` (Developer
#: Guide, "Wait for a Callback with Task Token": the services table).
CALLBACK_SERVICES = frozenset({"lambda", "sns", "sqs", "states", "ecs", "glue", "events"})
#: Errors a task token's holder sends with SendTaskFailure, in this app: ``ops reject``
#: (``ops/promotion_decision.py``; tests/unit/test_ops_promotion.py checks what it sends).
CALLBACK_ERRORS = frozenset({REJECTED_ERROR})
#: The most a task may wait for its token (Step Functions quotas: one year, a Standard
#: execution's longest run).
MAX_CALLBACK_SECONDS = 365 * 24 * 3600

#: The managed rule a ``.sync`` integration creates, per operation (events:* above is on it).
SYNC_RULES = {
    "CreateTrainingJob": "StepFunctionsGetEventsForSageMakerTrainingJobsRule",
    "StartExecution": "StepFunctionsGetEventsForStepFunctionsExecutionRule",
}
#: The Describe operation whose output a ``.sync`` integration returns.
SYNC_OUTPUT = {
    ("sagemaker", "CreateTrainingJob"): "DescribeTrainingJob",
    ("stepfunctions", "StartExecution"): "DescribeExecution",
}

_AWS_SDK = re.compile(
    r"^arn:[^:]+:states:::aws-sdk:(?P<service>[a-z0-9]+):(?P<action>[A-Za-z0-9]+)(?P<pattern>\.[A-Za-z0-9:]+)?$"
)
_OPTIMIZED = re.compile(
    r"^arn:[^:]+:states:::(?P<service>[a-z0-9-]+):(?P<action>[A-Za-z0-9]+)(?P<pattern>\.[A-Za-z0-9:]+)?$"
)
_FUNCTION_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+(:[^:]+)?$")


@dataclass
class Integration:
    """A Task's Resource, understood."""

    resource: str
    kind: str  # "aws-sdk", "optimized", "function"
    sfn_service: str
    botocore_service: str
    operation: OperationModel
    pattern: str = ""
    problem: str | None = None
    extra_actions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def api_name(self) -> str:
        return f"{self.botocore_service}.{self.operation.name}"

    def output(self) -> object:
        """The value the Task's result is (before ResultSelector)."""
        if self.kind == "function":
            return models.Opaque("the function's return value")
        if self.kind == "optimized" and self.sfn_service == "lambda":
            return models.Record(
                (
                    ("Payload", models.Opaque("the function's return value")),
                    ("StatusCode", models.Literal(200)),
                    ("ExecutedVersion", models.Literal("$LATEST")),
                    ("SdkHttpMetadata", models.Opaque("metadata")),
                    ("SdkResponseMetadata", models.Opaque("metadata")),
                )
            )
        if self.pattern == ".waitForTaskToken":
            return models.Opaque("the output SendTaskSuccess sends")
        if self.pattern.startswith(".sync"):
            describe = SYNC_OUTPUT.get((self.botocore_service, self.operation.name))
            if describe is None:
                return models.Opaque(f"{self.resource} output")
            return models.service(self.botocore_service).operation_model(describe).output_shape
        shape = self.operation.output_shape
        return shape if shape is not None else models.Record(())

    def error_names(self) -> frozenset[str]:
        """Every name ``ErrorEquals`` may use for this Task (besides a function's own errors)."""
        if self.kind == "function" or (self.kind == "optimized" and self.sfn_service == "lambda"):
            lambda_model = models.service("lambda").operation_model("Invoke")
            modelled = {
                f"Lambda.{s.name if s.name.endswith('Exception') else s.name + 'Exception'}"
                for s in lambda_model.error_shapes
            }
            return STATES_ERRORS | LAMBDA_SERVICE_ERRORS | modelled
        if self.kind == "optimized":
            prefix, catch_all = OPTIMIZED[self.sfn_service]
            # The SDK client maps every error code its service models to an exception class.
            model = models.service(self.botocore_service)
            modelled = {
                f"{prefix}.{n if n.endswith('Exception') else n + 'Exception'}"
                for n in model.shape_names
                if model.shape_for(n).metadata.get("exception")
            }
            callback = CALLBACK_ERRORS if self.pattern == ".waitForTaskToken" else frozenset()
            return STATES_ERRORS | modelled | callback | {catch_all, f"{prefix}.SdkClientException"}
        return STATES_ERRORS | models.modelled_error_names(self.botocore_service, self.operation)

    def iam_actions(self) -> tuple[str, ...]:
        return (
            models.iam_actions_for(self.botocore_service, self.operation.name) + self.extra_actions
        )


def describe(resource: str) -> Integration:
    """The integration a Task's Resource names; ``problem`` set when it names nothing real."""
    if _FUNCTION_ARN.match(resource):
        return Integration(
            resource,
            "function",
            "lambda",
            "lambda",
            models.service("lambda").operation_model("Invoke"),
        )
    match = _AWS_SDK.match(resource)
    kind = "aws-sdk"
    if match is None:
        match = _OPTIMIZED.match(resource)
        kind = "optimized"
    if match is None:
        raise ValueError(f"unrecognised Task resource {resource}")
    sfn_service, action, pattern = match["service"], match["action"], match["pattern"] or ""
    botocore_service = models.botocore_name(
        "stepfunctions" if (kind, sfn_service) == ("optimized", "states") else sfn_service
    )
    try:
        operation = models.operation(botocore_service, action)
    except Exception as error:  # botocore.exceptions.UnknownServiceError
        raise AssertionError(
            f"{resource}: botocore knows no service {botocore_service!r}"
        ) from error
    if operation is None:
        known = models.service(botocore_service).operation_names
        close = [n for n in known if n.lower() == action.lower()]
        hint = f" (botocore spells it {close[0][0].lower() + close[0][1:]})" if close else ""
        placeholder = models.service(botocore_service).operation_model(known[0])
        return Integration(
            resource,
            kind,
            sfn_service,
            botocore_service,
            placeholder,
            pattern,
            problem=f"{botocore_service} has no operation {action!r}{hint}",
        )
    if kind == "optimized" and sfn_service not in OPTIMIZED:
        return Integration(
            resource,
            kind,
            sfn_service,
            botocore_service,
            operation,
            pattern,
            problem=f"no optimized integration for {sfn_service} is modelled here",
        )
    if pattern == ".waitForTaskToken" and (
        kind != "optimized" or sfn_service not in CALLBACK_SERVICES
    ):
        return Integration(
            resource,
            kind,
            sfn_service,
            botocore_service,
            operation,
            pattern,
            problem=f"{resource}: no .waitForTaskToken integration for {sfn_service}",
        )
    extra = OPTIMIZED_EXTRA_ACTIONS.get((sfn_service, operation.name, pattern[:5]), ())
    return Integration(
        resource, kind, sfn_service, botocore_service, operation, pattern, None, extra
    )
