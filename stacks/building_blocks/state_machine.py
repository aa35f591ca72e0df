"""A Step Functions state machine with the house defaults and a notify-then-fail error path."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.network import PERIMETER_EXCLUSION_TAG, placement_of

#: Errors of a Lambda task worth retrying (service-side or throttling), as AWS names them.
LAMBDA_TRANSIENT_ERRORS: tuple[str, ...] = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
#: Errors of the SNS publish integration worth retrying.
SNS_TRANSIENT_ERRORS: tuple[str, ...] = (
    "SNS.InternalErrorException",
    "SNS.ThrottledException",
    "SNS.KMSThrottlingException",
    "SNS.SdkClientException",
)

#: Where a Catch stores the error, so the failure path can report it.
ERROR_PATH = "$.error"
#: The state of every workflow that publishes its failure notification. The execution-status
#: notifier (``lambda_src/execution_notifier``, told by its ``FAILURE_NOTIFICATION_STATE``
#: setting) reads a failed run's history for it: a run whose step succeeded was notified.
FAILURE_NOTIFICATION_STATE = "NotifyFailure"


#: How each outcome reads in a notification's first line (``<workflow> <phrase> in environment``).
#: The execution-status notifier (``lambda_src/shared/notification.py``) writes the same format;
#: the workflow tests compare the two.
OUTCOME_PHRASES = {
    "SUCCEEDED": "succeeded",
    "DEPLOYED": "deployed a model",
    "REJECTED": "rejected a model",
    "REGISTERED": "registered a model for approval",
    "APPROVAL_REQUESTED": "asks for approval",
    "FINISHED": "finished",
    "FAILED": "failed",
}


def notification_template(
    workflow_name: str,
    environment_name: str,
    outcome: str,
    summary: str = "",
    *,
    failure: bool = False,
) -> str:
    """A ``States.Format`` template of the shared notification format.

    Placeholders, in order: the summary's own ``{}``, then the execution id, then (``failure``)
    error and cause, then the execution id again for the console link.
    """
    lines = [f"{workflow_name} {OUTCOME_PHRASES[outcome]} in environment {environment_name}."]
    if summary:
        lines.append(summary)
    lines += [
        "",
        f"Pipeline: {workflow_name}",
        f"Environment: {environment_name}",
        f"Outcome: {outcome}",
        "Execution: {}",
    ]
    if failure:
        lines += ["Error: {}", "Cause: {}"]
    lines.append("Console: " + console_execution_url("{}"))
    return "\n".join(lines)


def notification_subject(environment_name: str, workflow_name: str, outcome: str) -> str:
    """``[env] <workflow> <OUTCOME>``, within SNS's 100 characters."""
    return f"[{environment_name}] {workflow_name} {outcome}"[:100]


def console_execution_url(execution_arn: str) -> str:
    """Console link to one execution (a plain string or a States.Format placeholder)."""
    return (
        f"https://{Aws.REGION}.console.aws.amazon.com/states/home?region={Aws.REGION}"
        f"#/v2/executions/details/{execution_arn}"
    )


class TaskGuard:
    """Gives a Task the standard Retry (exponential backoff, full jitter) and the failure Catch.

    Handed to the definition builder of :class:`Workflow`; every Task of a workflow goes through
    it, so every failure is retried where that can help and reported where it cannot.
    """

    def __init__(
        self,
        owner: Construct,
        failure_handler: sfn.IChainable,
        alerts: AlertTopic,
        workflow_name: str,
        environment_name: str,
    ) -> None:
        self._owner = owner
        self._failure_handler = failure_handler
        self._alerts = alerts
        self.workflow_name = workflow_name
        self._environment_name = environment_name

    @property
    def failure_handler(self) -> sfn.IChainable:
        """The notify-then-fail path: reports ``$.error`` (``Error``, ``Cause``) and fails.

        For a state that has recorded ``$.error`` itself and still has a step to take before
        failing (adding a detail to the cause); :meth:`fail` covers the usual case.
        """
        return self._failure_handler

    def __call__(
        self,
        task: sfn.TaskStateBase,
        *,
        transient_errors: Sequence[str],
        max_attempts: int = 5,
        interval: Duration | None = None,
        catch: bool = True,
    ) -> sfn.TaskStateBase:
        """Add the standard Retry and, unless ``catch=False``, the failure Catch.

        ``catch=False`` is for tasks inside a Map or Parallel branch, whose failure path lives in
        the enclosing graph: the branch fails, and the guarded Map/Parallel state catches it.
        Add task-specific catches (an expected "not found") *before* guarding: catchers are
        tried in order and the guard's catches everything.
        """
        if not transient_errors:
            raise ValueError(f"TaskGuard {task.node.id}: name the transient errors to retry")
        if "States.ALL" in transient_errors or "States.TaskFailed" in transient_errors:
            raise ValueError(
                f"TaskGuard {task.node.id}: retry named transient errors, not every failure"
            )
        if not 1 <= max_attempts <= 10:
            raise ValueError(f"TaskGuard {task.node.id}: max_attempts must be 1..10")
        if "TimeoutSeconds" not in task.to_state_json() and (
            "TimeoutSecondsPath" not in task.to_state_json()
        ):
            raise ValueError(f"TaskGuard {task.node.id}: give the task a task_timeout")
        task.add_retry(
            errors=list(transient_errors),
            interval=interval or Duration.seconds(2),
            backoff_rate=2.0,
            max_attempts=max_attempts,
            max_delay=Duration.minutes(5),
            jitter_strategy=sfn.JitterType.FULL,
        )
        if catch:
            task.add_catch(self._failure_handler, errors=["States.ALL"], result_path=ERROR_PATH)
        return task

    def catch_all(self, state: sfn.Map | sfn.Parallel) -> sfn.Map | sfn.Parallel:
        """The failure Catch for a Map or Parallel state, whose inner tasks are ``catch=False``."""
        state.add_catch(self._failure_handler, errors=["States.ALL"], result_path=ERROR_PATH)
        return state

    def fail(self, scope: Construct, construct_id: str, *, error: str, cause: str) -> sfn.Pass:
        """A state that records ``error``/``cause`` and takes the notify-then-fail path.

        ``cause`` may be a JsonPath expression (``sfn.JsonPath.format(...)``). Used where the
        workflow itself decides a run has failed (a terminal status, a polling deadline).
        """
        record = sfn.Pass(
            scope,
            construct_id,
            parameters={"Error": error, "Cause": cause},
            result_path=ERROR_PATH,
        )
        record.next(self._failure_handler)
        return record

    def notify(
        self,
        scope: Construct,
        construct_id: str,
        *,
        outcome: str,
        summary: str,
        values: Sequence[str] = (),
    ) -> sfn.TaskStateBase:
        """A guarded publish to the alert topic in the shared notification format.

        Subject ``[env] <workflow> <OUTCOME>``; the message starts with
        ``<workflow> <phrase> in environment <env>.`` and ``summary`` (a ``States.Format``
        template whose ``{}`` take ``values``, JsonPath expressions), then the Pipeline,
        Environment, Outcome, Execution and Console lines every notification has.
        """
        if outcome not in OUTCOME_PHRASES or outcome == "FAILED":
            raise ValueError(
                f"notify {construct_id}: outcome must be one of "
                f"{sorted(set(OUTCOME_PHRASES) - {'FAILED'})} (failures use fail())"
            )
        if summary.count("{}") != len(values):
            raise ValueError(f"notify {construct_id}: one value per {{}} of the summary")
        task = tasks.SnsPublish(
            scope,
            construct_id,
            topic=self._alerts.topic,
            subject=notification_subject(self._environment_name, self.workflow_name, outcome),
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.format(
                    notification_template(
                        self.workflow_name, self._environment_name, outcome, summary
                    ),
                    *values,
                    sfn.JsonPath.execution_id,
                    sfn.JsonPath.execution_id,
                )
            ),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(Duration.seconds(30)),
        )
        return self(task, transient_errors=SNS_TRANSIENT_ERRORS, max_attempts=3)

    def notify_and_wait(
        self,
        scope: Construct,
        construct_id: str,
        *,
        summary: str,
        values: Sequence[str] = (),
        timeout: Duration,
        token_attribute: str,
        result_path: str,
    ) -> sfn.CustomState:
        """A publish (outcome ``APPROVAL_REQUESTED``, the shared format) that waits for its
        task token (``sns:publish.waitForTaskToken``).

        The token travels only in the message attribute ``token_attribute``, where a tool finds
        it in the execution history's TaskScheduled parameters; the message (an email) carries
        the commands that decide, not the token. CDK's ``SnsPublish`` insists on the token in
        the message, hence a ``CustomState`` (the topic's publish grant is the workflow's
        already). ``timeout`` is the task's TimeoutSeconds: no SendTaskSuccess/Failure by then
        fails it with ``States.Timeout``. Add the decision's catches, then
        :meth:`guard_approval`.
        """
        outcome = "APPROVAL_REQUESTED"
        if summary.count("{}") != len(values):
            raise ValueError(f"notify_and_wait {construct_id}: one value per {{}} of the summary")
        seconds = int(timeout.to_seconds())
        if not 1 <= seconds <= 365 * 24 * 3600:
            raise ValueError(f"notify_and_wait {construct_id}: a task token waits 1 s to a year")
        message = sfn.JsonPath.format(
            notification_template(self.workflow_name, self._environment_name, outcome, summary),
            *values,
            sfn.JsonPath.execution_id,
            sfn.JsonPath.execution_id,
        )
        return sfn.CustomState(
            scope,
            construct_id,
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sns:publish.waitForTaskToken",
                "Parameters": {
                    "TopicArn": self._alerts.topic.topic_arn,
                    "Subject": notification_subject(
                        self._environment_name, self.workflow_name, outcome
                    ),
                    "Message.$": message,
                    "MessageAttributes": {
                        token_attribute: {
                            "DataType": "String",
                            "StringValue.$": sfn.JsonPath.task_token,
                        }
                    },
                },
                "TimeoutSeconds": seconds,
                "ResultPath": result_path,
            },
        )

    def guard_approval(self, state: sfn.CustomState) -> sfn.CustomState:
        """The standard Retry (the publish itself) and the failure Catch of a
        :meth:`notify_and_wait` state, once its own catches are added."""
        state.add_retry(
            errors=list(SNS_TRANSIENT_ERRORS),
            interval=Duration.seconds(2),
            backoff_rate=2.0,
            max_attempts=3,
            max_delay=Duration.minutes(5),
            jitter_strategy=sfn.JitterType.FULL,
        )
        state.add_catch(self._failure_handler, errors=["States.ALL"], result_path=ERROR_PATH)
        return state

    def invoke(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        timeout: Duration,
        payload: sfn.TaskInput | None = None,
        result_path: str | None = None,
        result_selector: Mapping[str, Any] | None = None,
        retry_errors: Sequence[str] = (),
        catch: bool = True,
    ) -> sfn.TaskStateBase:
        """A guarded LambdaInvoke of ``function`` returning the handler's own result.

        ``retry_errors`` names the handler's own transient errors (exception class names, e.g.
        an endpoint's throttling) to retry together with Lambda's; ``catch`` as for
        :meth:`__call__` (``False`` inside a Map's item processor).
        """
        task = tasks.LambdaInvoke(
            scope,
            construct_id,
            lambda_function=function,
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=False,  # the guard's retry replaces the default one
            result_path=result_path,
            result_selector=result_selector,
            task_timeout=sfn.Timeout.duration(timeout),
        )
        function_id = Stack.of(function).get_logical_id(function.node.default_child)
        Validations.of(self._owner).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{function_id}.Arn>:*]",
                reason="LambdaInvoke grants this one function and its versions/aliases "
                "(':*' qualifiers); no other function is reachable.",
            )
        )
        return self(task, transient_errors=(*LAMBDA_TRANSIENT_ERRORS, *retry_errors), catch=catch)


class Workflow(Construct):
    """A state machine that logs everything, traces, times out, and reports every failure.

    ``definition`` builds the states, given the :class:`TaskGuard` to wrap each Task with. A
    caught error goes to a path that publishes a readable message (workflow, environment,
    execution, error, cause, console link) to the ``alerts`` topic and then fails the execution with
    the original error and cause.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        workflow_name: str,
        environment_name: str,
        definition: Callable[[TaskGuard], sfn.IChainable],
        timeout: Duration,
        alerts: AlertTopic,
        encryption_key: kms.IKey,
        log_retention: logs.RetentionDays,
        retain_logs: bool = False,
        state_machine_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD,
        state_machine_name: str | None = None,
    ) -> None:
        """``state_machine_name``: a fixed physical name, for a workflow that must know its own
        ARN before deploy (to find its other runs); generated by CloudFormation otherwise."""
        super().__init__(scope, construct_id)
        if timeout.to_seconds() < 1:
            raise ValueError(f"Workflow {construct_id}: timeout must be positive")
        if state_machine_type is sfn.StateMachineType.EXPRESS and timeout.to_minutes() > 5:
            raise ValueError(f"Workflow {construct_id}: Express workflows run at most 5 minutes")
        self.workflow_name = workflow_name
        self.environment_name = environment_name
        self.state_machine_type = state_machine_type
        notify = tasks.SnsPublish(
            self,
            FAILURE_NOTIFICATION_STATE,
            topic=alerts.topic,
            subject=notification_subject(environment_name, workflow_name, "FAILED"),
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.format(
                    notification_template(workflow_name, environment_name, "FAILED", failure=True),
                    sfn.JsonPath.execution_id,
                    sfn.JsonPath.string_at(f"{ERROR_PATH}.Error"),
                    sfn.JsonPath.string_at(f"{ERROR_PATH}.Cause"),
                    sfn.JsonPath.execution_id,
                )
            ),
            result_path=sfn.JsonPath.DISCARD,
            task_timeout=sfn.Timeout.duration(Duration.seconds(30)),
        )
        fail = sfn.Fail(
            self,
            "Failed",
            error_path=f"{ERROR_PATH}.Error",
            cause_path=f"{ERROR_PATH}.Cause",
        )
        notify.add_retry(
            errors=list(SNS_TRANSIENT_ERRORS),
            interval=Duration.seconds(2),
            backoff_rate=2.0,
            max_attempts=3,
            jitter_strategy=sfn.JitterType.FULL,
        )
        # A notification that cannot be sent must not hide the original error.
        notify.add_catch(fail, errors=["States.ALL"], result_path="$.notification_error")
        self.failure_handler = notify.next(fail)
        self.guard = TaskGuard(self, self.failure_handler, alerts, workflow_name, environment_name)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=encryption_key,
            retention=log_retention,
            removal_policy=RemovalPolicy.RETAIN if retain_logs else RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition(self.guard)),
            state_machine_type=state_machine_type,
            state_machine_name=state_machine_name,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
        )
        alerts.grant_publish(self.state_machine)
        if placement_of(self) is not None:
            # Step Functions calls S3 (Distributed Map readers and writers, S3 tasks) from AWS's
            # network with this role, never through the VPC: the buckets' perimeter lets it in
            # by this tag (only states.amazonaws.com can assume the role).
            Tags.of(self.state_machine.role).add(PERIMETER_EXCLUSION_TAG, "true")
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="CloudWatch Logs vended delivery (logs:*LogDelivery*, "
                "DescribeResourcePolicies, DescribeLogGroups) and X-Ray trace APIs support no "
                "resource-level permissions; Step Functions documents '*' for them.",
            ),
            Acknowledgment(
                id="NIST.800.53.R5-IAMNoInlinePolicy",
                reason="The state machine's own role gets a policy generated from exact grants; "
                "an inline policy lives and dies with that role.",
            ),
        )
