"""The building blocks every pipeline uses, built in a scratch stack and checked for intent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Duration, Stack, Validations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks, ServerlessChecks

from shared import notification
from stacks.building_blocks.alarms import AlarmScope
from stacks.building_blocks.alerting import AlertTopic
from stacks.building_blocks.encryption import EnvironmentKey
from stacks.building_blocks.python_function import Invocation, PythonFunction
from stacks.building_blocks.queue import WorkQueue
from stacks.building_blocks.state_machine import (
    LAMBDA_TRANSIENT_ERRORS,
    OUTCOME_PHRASES,
    Workflow,
    notification_subject,
)
from tests.infra.conftest import make_app

LAYER_VERSION = 27


@pytest.fixture(scope="module")
def handler_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("lambda_src")
    (source / "sample").mkdir()
    (source / "sample" / "handler.py").write_text(
        "def lambda_handler(event, context):\n    return event\n"
    )
    return source


#: Alarms of the test stacks: through the notifier unless made direct.
ROUTED = AlarmScope(prefix="test", pipeline="operations")


class Blocks:
    """One of each building block, wired as a pipeline would wire them."""

    def __init__(self, stack: Stack, source: Path) -> None:
        self.key = EnvironmentKey(stack, "Encryption", alias="alias/test", retain=False).key
        self.alerts = AlertTopic(
            stack,
            "Alerts",
            topic_name="test-alerts",
            display_name="test",
            encryption_key=self.key,
            emails=["ops@example.com"],
            alarms=ROUTED,
        )
        common: dict[str, Any] = {
            "description": "test function",
            "memory_size": 256,
            "timeout": Duration.seconds(30),
            "encryption_key": self.key,
            "log_retention": logs.RetentionDays.ONE_MONTH,
            "powertools_layer_version": LAYER_VERSION,
            "service_name": "test",
            "metrics_namespace": "Test",
            "source": source,
        }
        self.sync_function = PythonFunction(
            stack,
            "Worker",
            handler="sample.handler.lambda_handler",
            invocation=Invocation.SYNCHRONOUS,
            **common,
        )
        self.async_function = PythonFunction(
            stack,
            "Listener",
            handler="sample.handler.lambda_handler",
            invocation=Invocation.ASYNCHRONOUS,
            alarms=ROUTED.direct(self.alerts.alarm_action),
            **common,
        )
        self.queue = WorkQueue(
            stack,
            "Work",
            encryption_key=self.key,
            consumer_timeout=Duration.seconds(30),
            alarms=ROUTED.direct(self.alerts.alarm_action),
            max_receive_count=4,
        )

        def definition(guard: Any) -> sfn.IChainable:
            invoke = guard.invoke(
                stack, "Invoke", function=self.sync_function.function, timeout=Duration.seconds(60)
            )
            return invoke.next(sfn.Succeed(stack, "Done"))

        self.workflow = Workflow(
            stack,
            "Flow",
            workflow_name="Test pipeline",
            environment_name="test",
            definition=definition,
            timeout=Duration.hours(1),
            alerts=self.alerts,
            encryption_key=self.key,
            log_retention=logs.RetentionDays.ONE_MONTH,
        )


@pytest.fixture(scope="module")
def built(cdk_context, handler_source) -> tuple[Blocks, Template]:
    app = make_app(cdk_context)
    stack = Stack(app, "Blocks")
    blocks = Blocks(stack, handler_source)
    return blocks, Template.from_stack(stack)


def logical_id(construct: Any) -> str:
    """The logical ID of a construct's CloudFormation resource."""
    node = construct.node.default_child or construct
    return str(Stack.of(construct).get_logical_id(node))


def definition_of(template: Template) -> dict[str, Any]:
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    # CDK renders every token inside a JSON string of the definition.
    text = "".join(part if isinstance(part, str) else "<ref>" for part in parts)
    return json.loads(text)


# --- function -------------------------------------------------------------------------------


def test_function_defaults(built):
    _, template = built
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "MemorySize": 256,
            "Timeout": 30,
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": Match.any_value()},
            "KmsKeyArn": Match.any_value(),
            "Environment": {
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "test",
                    "POWERTOOLS_METRICS_NAMESPACE": "Test",
                }
            },
        },
    )


def test_function_uses_the_regional_powertools_layer(built):
    _, template = built
    for function in template.find_resources("AWS::Lambda::Function").values():
        (layer,) = function["Properties"]["Layers"]
        arn = "".join(p if isinstance(p, str) else f"<{p['Ref']}>" for p in layer["Fn::Join"][1])
        assert arn == (
            "arn:<AWS::Partition>:lambda:<AWS::Region>:017000801446:layer:"
            f"AWSLambdaPowertoolsPythonV3-python314-arm64:{LAYER_VERSION}"
        )


def test_function_logs_are_encrypted_and_retained(built):
    _, template = built
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 3  # two functions and the workflow
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == 30
        assert "KmsKeyId" in group["Properties"]


def test_roles_have_no_managed_policies(built):
    _, template = built
    for role in template.find_resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_function_role_may_write_only_its_own_log_group(built):
    blocks, template = built
    role_id = logical_id(blocks.sync_function.role)
    log_id = logical_id(blocks.sync_function.log_group)
    policies = [
        p
        for p in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    log_statements = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
    assert log_statements
    for statement in log_statements:
        assert statement["Resource"] == {"Fn::GetAtt": [log_id, "Arn"]}


def test_only_asynchronous_functions_get_an_alarmed_dead_letter_queue(built):
    blocks, template = built
    assert blocks.sync_function.dead_letter is None
    assert blocks.async_function.dead_letter is not None
    functions = template.find_resources("AWS::Lambda::Function")
    with_dlq = [f for f in functions.values() if "DeadLetterConfig" in f["Properties"]]
    assert len(with_dlq) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"handler": "nodots"}, "handler must be 'module.function'"),
        ({"handler": "missing.module.handler"}, "not found"),
        ({"memory_size": 64}, "memory_size"),
        ({"timeout": Duration.minutes(16)}, "timeout"),
        ({"reserved_concurrency": 0}, "reserved_concurrency"),
        ({"invocation": Invocation.ASYNCHRONOUS}, "needs alarms"),
    ],
)
def test_function_argument_validation(cdk_context, handler_source, overrides, message):
    stack = Stack(make_app(cdk_context), "Bad")
    key = EnvironmentKey(stack, "Key", alias="alias/bad", retain=False).key
    arguments: dict[str, Any] = {
        "handler": "sample.handler.lambda_handler",
        "description": "bad",
        "memory_size": 256,
        "timeout": Duration.seconds(10),
        "invocation": Invocation.SYNCHRONOUS,
        "encryption_key": key,
        "log_retention": logs.RetentionDays.ONE_WEEK,
        "powertools_layer_version": 1,
        "service_name": "bad",
        "metrics_namespace": "Bad",
        "source": handler_source,
        **overrides,
    }
    with pytest.raises(ValueError, match=message):
        PythonFunction(stack, "Fn", **arguments)


# --- queue ----------------------------------------------------------------------------------


def test_queue_visibility_is_six_times_the_consumer_timeout(built):
    blocks, template = built
    queue_id = logical_id(blocks.queue.queue)
    properties = template.to_json()["Resources"][queue_id]["Properties"]
    assert properties["VisibilityTimeout"] == 6 * 30
    assert properties["RedrivePolicy"]["maxReceiveCount"] == 4
    assert "KmsMasterKeyId" in properties


def test_every_queue_is_encrypted_and_tls_only(built):
    _, template = built
    queues = template.find_resources("AWS::SQS::Queue")
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    assert queues
    for queue in queues.values():
        assert "KmsMasterKeyId" in queue["Properties"]
    protected = set()
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}:
                protected.update(ref["Ref"] for ref in policy["Properties"]["Queues"])
    assert protected == set(queues)


def test_every_dead_letter_queue_alarms_the_topic(built):
    blocks, template = built
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    topic_id = logical_id(blocks.alerts.topic)
    # Work queue DLQ, async function DLQ (direct route), failed SNS deliveries (routed).
    assert len(alarms) == 3
    names = {alarm["Properties"]["AlarmName"]: alarm["Properties"] for alarm in alarms.values()}
    assert sorted(names) == [
        "test-operations-alert-deliveries-failed",
        "test-operations-listener-dead-letter",
        "test-operations-work-dead-letter",
    ]
    for name, alarm in names.items():
        direct = name != "test-operations-alert-deliveries-failed"
        assert alarm.get("AlarmActions") == ([{"Ref": topic_id}] if direct else None)
        assert alarm.get("OKActions") == ([{"Ref": topic_id}] if direct else None)
        assert alarm["Threshold"] == 1
        assert "redrive" in alarm["AlarmDescription"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_receive_count": 6}, "max_receive_count"),
        ({"max_receive_count": 0}, "max_receive_count"),
        ({"consumer_timeout": Duration.hours(3)}, "12-hour"),
        # A dead-letter queue must keep messages longer than its source (14 days).
        ({"retention": Duration.days(14)}, "shorter than the dead-letter queue's 14 days"),
    ],
)
def test_queue_argument_validation(cdk_context, kwargs, message):
    stack = Stack(make_app(cdk_context), "Bad")
    key = EnvironmentKey(stack, "Key", alias="alias/bad", retain=False).key
    AlertTopic(
        stack, "T", topic_name="t", display_name="t", encryption_key=key, emails=[], alarms=ROUTED
    )
    arguments: dict[str, Any] = {
        "encryption_key": key,
        "consumer_timeout": Duration.seconds(30),
        "alarms": ROUTED,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        WorkQueue(stack, "Q", **arguments)


# --- state machine --------------------------------------------------------------------------


def test_state_machine_logs_everything_traces_and_times_out(built):
    _, template = built
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": True},
        },
    )
    assert definition_of(template)["TimeoutSeconds"] == 3600


def test_guarded_task_retries_transient_errors_with_jitter_and_catches_everything(built):
    _, template = built
    states = definition_of(template)["States"]
    invoke = states["Invoke"]
    assert invoke["TimeoutSeconds"] == 60
    (retry,) = invoke["Retry"]
    assert retry["ErrorEquals"] == list(LAMBDA_TRANSIENT_ERRORS)
    assert retry["BackoffRate"] == 2
    assert retry["JitterStrategy"] == "FULL"
    assert retry["MaxAttempts"] == 5
    (catch,) = invoke["Catch"]
    assert catch == {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.error",
        "Next": "NotifyFailure",
    }


def test_failure_path_notifies_then_fails_with_the_original_error(built):
    _, template = built
    states = definition_of(template)["States"]
    notify = states["NotifyFailure"]
    assert notify["Type"] == "Task"
    assert notify["Next"] == "Failed"
    assert "TimeoutSeconds" in notify
    message = notify["Parameters"]["Message.$"]
    for fragment in (
        "Test pipeline failed in environment test",
        "$$.Execution.Id",
        "$.error.Error",
        "$.error.Cause",
    ):
        assert fragment in message
    # A notification that fails must still end in the original failure.
    assert notify["Catch"][0]["Next"] == "Failed"
    assert notify["Catch"][0]["ResultPath"] == "$.notification_error"
    assert states["Failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_every_task_has_a_timeout(built):
    _, template = built
    for name, state in definition_of(template)["States"].items():
        if state["Type"] == "Task":
            assert "TimeoutSeconds" in state, name


def test_state_machine_may_encrypt_for_the_encrypted_topic(built):
    """Synth cannot see a missing kms:GenerateDataKey; the failure notification would be lost."""
    blocks, template = built
    machine = blocks.workflow.state_machine
    role_id = logical_id(machine.role)
    key_id = logical_id(blocks.key)
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    kms_actions = {
        action
        for statement in statements
        if statement["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= kms_actions
    publish = [s for s in statements if s["Action"] == "sns:Publish"]
    assert publish


@pytest.mark.parametrize(
    ("guard_kwargs", "timeout", "message"),
    [
        ({"transient_errors": []}, True, "name the transient errors"),
        ({"transient_errors": ["States.ALL"]}, True, "not every failure"),
        (
            {"transient_errors": ["Lambda.ServiceException"], "max_attempts": 0},
            True,
            "max_attempts",
        ),
        ({"transient_errors": ["Lambda.ServiceException"]}, False, "task_timeout"),
    ],
)
def test_guard_argument_validation(cdk_context, guard_kwargs, timeout, message):
    stack = Stack(make_app(cdk_context), "Bad")
    key = EnvironmentKey(stack, "Key", alias="alias/bad", retain=False).key
    topic = AlertTopic(
        stack, "T", topic_name="t", display_name="t", encryption_key=key, emails=[], alarms=ROUTED
    )

    def definition(guard: Any) -> sfn.IChainable:
        task = tasks.EvaluateExpression(
            stack,
            "Eval",
            expression="$.a + 1",
            task_timeout=sfn.Timeout.duration(Duration.seconds(5)) if timeout else None,
        )
        return guard(task, **guard_kwargs)

    with pytest.raises(ValueError, match=message):
        Workflow(
            stack,
            "Flow",
            workflow_name="x",
            environment_name="x",
            definition=definition,
            timeout=Duration.minutes(5),
            alerts=topic,
            encryption_key=key,
            log_retention=logs.RetentionDays.ONE_WEEK,
        )


# --- security gate over the building blocks --------------------------------------------------


def test_building_blocks_pass_every_nag_pack(cdk_context, handler_source, tmp_path):
    """Each acknowledgement lives in the block that owns the resource; nothing is left over."""
    app = make_app(cdk_context, outdir=str(tmp_path))
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), ServerlessChecks(app), NIST80053R5Checks(app)
    )
    Blocks(Stack(app, "Blocks"), handler_source)
    app.synth()  # raises ValidationFailed on any unacknowledged finding
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []


# --- queue consumers and extra function policies ---------------------------------------------


def _consumer_stack(cdk_context: dict[str, Any], handler_source: Path, **app_kwargs: Any) -> Any:
    """A queue with a consumer and a function with an extra, acknowledged policy."""
    from aws_cdk import aws_iam as iam

    app = make_app(cdk_context, **app_kwargs)
    stack = Stack(app, "Consumers")
    key = EnvironmentKey(stack, "Encryption", alias="alias/consumers", retain=False).key
    AlertTopic(
        stack,
        "Alerts",
        topic_name="t",
        display_name="t",
        encryption_key=key,
        emails=[],
        alarms=ROUTED,
    )
    function = PythonFunction(
        stack,
        "Consumer",
        handler="sample.handler.lambda_handler",
        description="consumer",
        memory_size=256,
        timeout=Duration.seconds(30),
        invocation=Invocation.EVENT_SOURCE,
        encryption_key=key,
        log_retention=logs.RetentionDays.ONE_WEEK,
        powertools_layer_version=LAYER_VERSION,
        service_name="consumer",
        metrics_namespace="Test",
        source=handler_source,
    )
    queue = WorkQueue(
        stack,
        "Work",
        encryption_key=key,
        consumer_timeout=Duration.seconds(30),
        alarms=ROUTED,
    )
    mapping = queue.add_consumer(
        function.function,
        batch_size=50,
        max_batching_window=Duration.seconds(5),
        max_concurrency=3,
        enabled=False,
    )
    function.add_policy(
        "Lookups",
        statements=[iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])],
        acknowledgements=[
            ("AwsSolutions-IAM5[Resource::*]", "GetMetricData has no resource-level permissions.")
        ],
    )
    return app, stack, queue, function, mapping


def test_queue_consumer_always_reports_batch_item_failures(cdk_context, handler_source):
    _, stack, queue, function, _ = _consumer_stack(cdk_context, handler_source)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 50,
            "MaximumBatchingWindowInSeconds": 5,
            "ScalingConfig": {"MaximumConcurrency": 3},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "Enabled": False,
            "EventSourceArn": {"Fn::GetAtt": [logical_id(queue.queue), "Arn"]},
        },
    )
    role_id = logical_id(function.role)
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    consume = [s for s in statements if "sqs:ReceiveMessage" in s["Action"]]
    assert consume
    assert consume[0]["Resource"] == {"Fn::GetAtt": [logical_id(queue.queue), "Arn"]}
    extra = [s for s in statements if s["Action"] == "cloudwatch:GetMetricData"]
    assert extra == [{"Action": "cloudwatch:GetMetricData", "Effect": "Allow", "Resource": "*"}]


def test_queue_consumer_and_extra_policy_pass_every_nag_pack(cdk_context, handler_source, tmp_path):
    """The event source's destination finding is acknowledged by the queue block itself."""
    app, *_ = _consumer_stack(cdk_context, handler_source, outdir=str(tmp_path))
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app), ServerlessChecks(app), NIST80053R5Checks(app)
    )
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert report["pluginReports"] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 11}, "max_batching_window of at least 1 second"),
        ({"batch_size": 10, "max_batching_window": Duration.seconds(301)}, "at most 300"),
        ({"batch_size": 10, "max_concurrency": 1}, "max_concurrency"),
        ({"batch_size": 10, "timeout": Duration.seconds(31)}, "exceeds the consumer_timeout"),
    ],
)
def test_queue_consumer_argument_validation(cdk_context, handler_source, kwargs, message):
    stack = Stack(make_app(cdk_context), "Bad")
    key = EnvironmentKey(stack, "Key", alias="alias/bad", retain=False).key
    AlertTopic(
        stack, "T", topic_name="t", display_name="t", encryption_key=key, emails=[], alarms=ROUTED
    )
    queue = WorkQueue(
        stack,
        "Q",
        encryption_key=key,
        consumer_timeout=Duration.seconds(30),
        alarms=ROUTED,
    )
    function = PythonFunction(
        stack,
        "Fn",
        handler="sample.handler.lambda_handler",
        description="bad",
        memory_size=256,
        timeout=kwargs.pop("timeout", Duration.seconds(30)),
        invocation=Invocation.EVENT_SOURCE,
        encryption_key=key,
        log_retention=logs.RetentionDays.ONE_WEEK,
        powertools_layer_version=1,
        service_name="bad",
        metrics_namespace="Bad",
        source=handler_source,
    )
    with pytest.raises(ValueError, match=message):
        queue.add_consumer(function.function, **kwargs)


def test_function_add_policy_needs_statements(cdk_context, handler_source):
    stack = Stack(make_app(cdk_context), "Bad")
    key = EnvironmentKey(stack, "Key", alias="alias/bad", retain=False).key
    function = PythonFunction(
        stack,
        "Fn",
        handler="sample.handler.lambda_handler",
        description="bad",
        memory_size=256,
        timeout=Duration.seconds(10),
        invocation=Invocation.SYNCHRONOUS,
        encryption_key=key,
        log_retention=logs.RetentionDays.ONE_WEEK,
        powertools_layer_version=1,
        service_name="bad",
        metrics_namespace="Bad",
        source=handler_source,
    )
    with pytest.raises(ValueError, match="needs statements"):
        function.add_policy("Empty", statements=[])


def test_guard_invoke_retries_the_handlers_own_errors_and_can_leave_catching_to_a_map(
    cdk_context, handler_source
):
    """``retry_errors`` joins Lambda's transient errors; ``catch=False`` leaves the Catch out."""
    stack = Stack(make_app(cdk_context), "Invoke")
    blocks = Blocks(stack, handler_source)

    def definition(guard: Any) -> sfn.IChainable:
        caught = guard.invoke(
            stack,
            "Caught",
            function=blocks.sync_function.function,
            timeout=Duration.seconds(30),
            retry_errors=["EndpointThrottledError"],
        )
        uncaught = guard.invoke(
            stack,
            "Uncaught",
            function=blocks.sync_function.function,
            timeout=Duration.seconds(30),
            catch=False,
        )
        inner = sfn.Map(stack, "Each", items_path="$.items")
        inner.item_processor(uncaught)
        guard.catch_all(inner)
        return caught.next(inner)

    Workflow(
        stack,
        "Flow2",
        workflow_name="Invoke test",
        environment_name="test",
        definition=definition,
        timeout=Duration.minutes(5),
        alerts=blocks.alerts,
        encryption_key=blocks.key,
        log_retention=logs.RetentionDays.ONE_WEEK,
    )
    machines = Template.from_stack(stack).find_resources("AWS::StepFunctions::StateMachine")
    (flow,) = [m for key, m in machines.items() if key.startswith("Flow2")]
    parts = flow["Properties"]["DefinitionString"]["Fn::Join"][1]
    states = json.loads("".join(p if isinstance(p, str) else "<ref>" for p in parts))["States"]
    (retry,) = states["Caught"]["Retry"]
    assert retry["ErrorEquals"] == [*LAMBDA_TRANSIENT_ERRORS, "EndpointThrottledError"]
    assert states["Caught"]["Catch"][0]["Next"] == "NotifyFailure"
    uncaught = states["Each"]["ItemProcessor"]["States"]["Uncaught"]
    assert uncaught["Retry"][0]["ErrorEquals"] == list(LAMBDA_TRANSIENT_ERRORS)
    assert "Catch" not in uncaught
    assert states["Each"]["Catch"][0]["Next"] == "NotifyFailure"


def test_workflow_notifications_speak_the_shared_format():
    # The state machines cannot import lambda_src: their copy of the outcome words and subject
    # must stay what the execution-status notifier writes (lambda_src/shared/notification.py).
    for outcome, phrase in OUTCOME_PHRASES.items():
        assert notification.OUTCOME_PHRASES[outcome] == phrase
        assert notification_subject("dev", "Rekognition training", outcome) == (
            notification.subject("dev", "Rekognition training", outcome)
        )
    assert notification_subject("dev", "x" * 120, "FAILED") == notification.subject(
        "dev", "x" * 120, "FAILED"
    )
