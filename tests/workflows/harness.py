"""Run a synthesized state machine locally, in moto, with the real handler code.

The definition executed is the one in the synthesized template: its ``Fn::Join`` tokens are
resolved against moto resources created from the template's own resource types, so the tested
ASL is the deployed ASL. moto's Step Functions interpreter misleads as shipped (see DESIGN.md §4);
this harness corrects it:

1. Lambda tasks run the real handler named by the function's ``Handler`` property, with the
   function's (resolved) environment variables; exceptions come back as ``Unhandled`` function
   errors whose name is the exception class, as on AWS.
2. ``Wait`` states and retry back-offs are recorded instead of slept (``run.waits``,
   ``run.retry_sleeps``).
3. Services moto does not implement (Rekognition Custom Labels, ...) are answered by scripted
   responses (``LocalWorkflow.script``), in order, through a botocore ``before-call`` hook; an
   unscripted call fails the test instead of surfacing as ``States.Runtime``. With
   ``strict_answers`` every scripted answer must fit botocore's output shape of the operation
   (members, types, required members, enum values), so a test cannot script a response the
   service would never give.
4. aws-sdk errors are named as AWS names them: ``Rekognition.ThrottlingException``.
5. JSONPath as AWS evaluates it: a definite path such as ``$.List[0].Field`` yields the value
   (moto returns a one-element list, so a Choice never matches and a polling loop spins
   forever); an indefinite one (``[*]``, slices, filters) yields the list of matches, empty
   when nothing matches (moto fails when a path has more than one wildcard).
6. Every run has a name and a bounded duration; a history containing ``States.Runtime`` fails.
6a. aws-sdk results are JSON, as Step Functions hands them on: botocore's datetimes become
   strings (moto keeps them as objects, and ``States.JsonToString`` then fails on them).
6b. SendTaskFailure keeps its ``cause`` (moto's response layer drops it, so a Catch of a task
   failed by a token holder would see no cause).
7. What moto lacks entirely (the ``moto_extensions`` package, a module per concern): optimized
   integrations it only forwards (``sagemaker:*``, with ``.sync``) go through the scripts; AWS
   calls made by handlers can be scripted per operation; the Distributed Map lists S3 fully,
   enforces the tolerated failure threshold and writes its ResultWriter files.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import sys
import threading
import time
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters
from jsonpath_ng import ext as jsonpath_ext
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.responses import EmptyResult
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service as service_task,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk as aws_sdk_task,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
    WaitFunction,
)
from moto.stepfunctions.parser.asl.utils import json_path as moto_json_path
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.responses import StepFunctionResponse

from tests.contract.service_models import SFN_TO_BOTOCORE
from tests.workflows.moto_extensions import extension_patches
from tests.workflows.moto_extensions.definitions import moto_definition
from tests.workflows.moto_extensions.handler_calls import handler_running

REGION = "eu-west-1"
ACCOUNT = "123456789012"
PARTITION = "aws"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

#: How Step Functions spells service names in aws-sdk error names (PascalCase).
SDK_ERROR_SERVICE_NAMES = {
    "rekognition": "Rekognition",
    "ssm": "Ssm",
    "s3": "S3",
    "sfn": "Sfn",
    "sagemaker": "SageMaker",
    "sns": "Sns",
    "cloudwatch": "CloudWatch",
    "lambda": "Lambda",
    "applicationautoscaling": "ApplicationAutoScaling",
    "application-autoscaling": "ApplicationAutoScaling",
}


_INDEFINITE_PATH = re.compile(r"\[\s*(\*|\?|[^\]]*[:,])|\.\.")


def _aws_extract_json(path: str, data: Any) -> Any:
    """AWS's JSONPath semantics: definite -> the one value; indefinite -> the list of matches."""
    matches = jsonpath_ext.parse(path).find(data)
    if _INDEFINITE_PATH.search(path):
        return [match.value for match in matches]
    if not matches:
        raise moto_json_path.NoSuchJsonPathError(json_path=path, data=data)
    return matches[0].value


_MOTO_EXTRACT_JSON = moto_json_path.extract_json  # what the patches replace


def _json_path_patches() -> list[Any]:
    """Replace extract_json in every moto module that imported it by name."""
    return [
        mock.patch.object(module, "extract_json", _aws_extract_json)
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser")
        and getattr(module, "extract_json", None) is _MOTO_EXTRACT_JSON
    ]


def _json_result(eval_service_task: Callable[..., None]) -> Callable[..., None]:
    """An aws-sdk task evaluation whose result is plain JSON (timestamps as ISO 8601 text)."""

    def evaluate(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        eval_service_task(self, env, *args, **kwargs)
        env.stack.append(json.loads(to_json_str(env.stack.pop())))

    return evaluate


def _check_enums(value: Any, shape: Any, where: str) -> None:
    """Every string of ``value`` whose shape has an enum is one of its values."""
    if shape.type_name == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                _check_enums(value[name], member, f"{where}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for item in value:
            _check_enums(item, shape.member, f"{where}[]")
    elif shape.type_name == "map" and isinstance(value, Mapping):
        for item in value.values():
            _check_enums(item, shape.value, f"{where}{{}}")
    elif shape.type_name == "string" and getattr(shape, "enum", None) and value not in shape.enum:
        raise AssertionError(f"{where}: {value!r} is not one of {shape.name} {shape.enum}")


def _send_task_failure(self: Any) -> EmptyResult:
    """SendTaskFailure as AWS takes it: token, error and cause."""
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


class UnscriptedCallError(AssertionError):
    """The workflow called an API the test did not script."""


@dataclass(frozen=True)
class AwsError:
    """A scripted error answer, as the service documents it."""

    code: str
    message: str = "scripted error"
    status: int = 400


Answer = Mapping[str, Any] | AwsError | Callable[[Mapping[str, Any]], Any]


@dataclass
class WorkflowRun:
    """What one execution did."""

    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]
    waits: list[int]
    retry_sleeps: list[float]
    calls: dict[str, list[dict[str, Any]]]
    #: AWS calls made by Lambda handlers, by ``service.Operation`` (scripted or moto's).
    handler_calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def entered(self) -> list[str]:
        """Names of the states entered, in order."""
        return [
            event["stateEnteredEventDetails"]["name"]
            for event in self.history
            if "stateEnteredEventDetails" in event
        ]

    def published(self) -> list[dict[str, Any]]:
        """Parameters of every SNS publish the workflow made (scripted or not)."""
        return self.calls.get("sns.Publish", [])


@dataclass
class _Recorder:
    waits: list[int] = field(default_factory=list)
    retry_sleeps: list[float] = field(default_factory=list)
    calls: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    handler_calls: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    lock: threading.Lock = field(default_factory=threading.Lock)


class _LambdaContext:
    def __init__(self, function_name: str, function_arn: str, memory: int, timeout: int) -> None:
        self.function_name = function_name
        self.invoked_function_arn = function_arn
        self.memory_limit_in_mb = memory
        self.aws_request_id = str(uuid.uuid4())
        self.function_version = "$LATEST"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalWorkflow:
    """One state machine of a synthesized template, deployed into moto.

    Use inside ``mock_aws(config=MOTO_CONFIG)``. ``templates`` maps CloudFormation stack names to
    every template the state machine's references reach; cross-stack ``Fn::GetStackOutput``
    references are resolved through the producing template's outputs.
    """

    def __init__(
        self,
        templates: Mapping[str, Mapping[str, Any]],
        stack_name: str,
        state_machine_id: str,
        *,
        strict_answers: bool = False,
    ) -> None:
        """``strict_answers``: every scripted aws-sdk answer must match the operation's output
        shape in botocore's service model: field names, types, required members and enums."""
        self._strict_answers = strict_answers
        self._templates = templates
        self._stack = stack_name
        self._physical: dict[tuple[str, str], str] = {}
        self._functions: dict[str, dict[str, Any]] = {}
        self._scripts: dict[str, list[Answer]] = defaultdict(list)
        self._recorder = _Recorder()
        self._cold_started: set[str] = set()
        # One invocation at a time: each real Lambda has its own process environment, here
        # they share os.environ, which patch.dict clears and refills on exit (a Map child
        # running meanwhile in another thread saw its variables vanish).
        self._invocation_lock = threading.Lock()
        self._sfn = boto3.client("stepfunctions", region_name=REGION)
        self._iam_role = self._role()
        machine = templates[stack_name]["Resources"][state_machine_id]
        definition = self.resolve(stack_name, machine["Properties"]["DefinitionString"])
        self.definition: dict[str, Any] = json.loads(definition)
        self.arn = self._sfn.create_state_machine(
            name=state_machine_id,
            definition=json.dumps(moto_definition(self.definition)),
            roleArn=self._iam_role,
            type=machine["Properties"].get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]

    # --- scripting ------------------------------------------------------------------------

    def script(self, service: str, operation: str, *answers: Answer) -> None:
        """Answer the next calls of ``service.Operation`` (botocore names) in this order.

        An answer is a response dict, an :class:`AwsError`, or a callable taking the request
        parameters. The last answer repeats once the others are used up.
        """
        self._scripts[f"{service}.{operation}"].extend(answers)

    def physical_id(self, stack: str, logical_id: str) -> str:
        """The moto resource created for a template resource (name, ARN or URL)."""
        return self._physical[(stack, logical_id)]

    # --- running --------------------------------------------------------------------------

    def run(
        self,
        execution_input: Any,
        *,
        name: str,
        timeout: float = 60,
        while_running: Callable[[str], None] | None = None,
    ) -> WorkflowRun:
        """Start an execution, wait (bounded) until it ends, and return what it did.

        ``execution_input`` is any JSON value: AWS accepts strings, arrays and numbers too.
        ``while_running`` is called with the execution ARN each time the run is seen still
        running: what a person or tool does meanwhile (answer a task token, say).
        """
        self._recorder = _Recorder()
        with self._patched():
            execution_arn = self._sfn.start_execution(
                stateMachineArn=self.arn, name=name, input=json.dumps(execution_input)
            )["executionArn"]
            deadline = time.monotonic() + timeout
            pause = 0.05
            while True:
                described = self._sfn.describe_execution(executionArn=execution_arn)
                if described["status"] != "RUNNING":
                    break
                if time.monotonic() > deadline:
                    self._sfn.stop_execution(executionArn=execution_arn)
                    raise AssertionError(f"execution {name} still running after {timeout}s")
                if while_running is not None:
                    while_running(execution_arn)
                # Polling steals the interpreter from the execution thread: back off.
                time.sleep(pause)
                pause = min(pause * 2, 0.5)
        history = self._sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)[
            "events"
        ]
        runtime_errors = [
            event
            for event in history
            if "States.Runtime" in json.dumps(event, default=str)
            and event["type"] in ("ExecutionFailed", "TaskFailed", "LambdaFunctionFailed")
        ]
        if runtime_errors:
            raise AssertionError(
                f"States.Runtime in the history (not AWS behaviour): {runtime_errors}"
            )
        output = described.get("output")
        return WorkflowRun(
            execution_arn=execution_arn,
            status=described["status"],
            output=json.loads(output) if output else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
            waits=list(self._recorder.waits),
            retry_sleeps=list(self._recorder.retry_sleeps),
            calls={key: list(value) for key, value in self._recorder.calls.items()},
            handler_calls={key: list(value) for key, value in self._recorder.handler_calls.items()},
        )

    # --- token resolution -----------------------------------------------------------------

    def resolve(self, stack: str, value: Any) -> Any:
        """Resolve an intrinsic (``Fn::Join``, ``Ref``, ``Fn::GetAtt``, ...) to a plain value."""
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        if isinstance(value, list):
            return [self.resolve(stack, item) for item in value]
        if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref")):
            return {key: self.resolve(stack, item) for key, item in value.items()}
        ((function, argument),) = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(self.resolve(stack, part)) for part in parts)
        if function == "Ref":
            return self._ref(stack, argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument
            return self._attribute(stack, logical_id, attribute)
        if function == "Fn::GetStackOutput":
            return self._stack_output(argument["StackName"], argument["OutputName"])
        if function == "Fn::Select":
            index, items = argument
            return self.resolve(stack, items)[int(index)]
        if function == "Fn::Split":
            separator, text = argument
            return str(self.resolve(stack, text)).split(separator)
        if function == "Fn::FindInMap":
            mapping, top_key, second_key = (self.resolve(stack, part) for part in argument)
            return self._templates[stack]["Mappings"][mapping][top_key][second_key]
        raise NotImplementedError(f"intrinsic {function} in {stack}")

    def _ref(self, stack: str, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack,
        }
        if name in pseudo:
            return pseudo[name]
        return self._create(stack, name)["ref"]

    def _attribute(self, stack: str, logical_id: str, attribute: str) -> str:
        created = self._create(stack, logical_id)
        if attribute not in created:
            raise NotImplementedError(f"{stack}/{logical_id}.{attribute}")
        return str(created[attribute])

    def _stack_output(self, stack_name: str, output_name: str) -> Any:
        outputs = self._templates[stack_name].get("Outputs", {})
        if output_name not in outputs:
            raise KeyError(f"stack {stack_name} has no output {output_name}")
        return self.resolve(stack_name, outputs[output_name]["Value"])

    def _create(self, stack: str, logical_id: str) -> dict[str, str]:
        key = (stack, logical_id)
        cache_key = (stack, f"__created__{logical_id}")
        if cache_key in self._physical:
            return json.loads(self._physical[cache_key])
        resource = self._templates[stack]["Resources"][logical_id]
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        name = f"{stack}-{logical_id}".lower()[:60]
        created: dict[str, str]
        if kind == "AWS::S3::Bucket":
            boto3.client("s3", region_name=REGION).create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            created = {"ref": name, "Arn": f"arn:aws:s3:::{name}"}
        elif kind == "AWS::SNS::Topic":
            arn = boto3.client("sns", region_name=REGION).create_topic(Name=name)["TopicArn"]
            created = {"ref": arn, "TopicArn": arn, "TopicName": name}
        elif kind == "AWS::SQS::Queue":
            url = boto3.client("sqs", region_name=REGION).create_queue(QueueName=name)["QueueUrl"]
            arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            created = {"ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
        elif kind == "AWS::KMS::Key":
            key_id = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]
            created = {"ref": key_id, "Arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"}
        elif kind == "AWS::Lambda::Function":
            created = self._create_function(stack, name, properties)
        elif kind == "AWS::IAM::Role":
            created = {"ref": name, "Arn": self._iam_role}
        elif kind == "AWS::Logs::LogGroup":
            created = {"ref": name, "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"}
        elif kind == "AWS::StepFunctions::StateMachine":
            arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{logical_id}"
            created = {"ref": arn, "Arn": arn, "Name": logical_id}
        else:
            raise NotImplementedError(f"harness cannot create {kind} ({stack}/{logical_id})")
        self._physical[key] = created["ref"]
        self._physical[cache_key] = json.dumps(created)
        return created

    def _create_function(
        self, stack: str, name: str, properties: Mapping[str, Any]
    ) -> dict[str, str]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("placeholder.py", "")
        arn = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self._iam_role,
            Handler=properties["Handler"],
            Code={"ZipFile": buffer.getvalue()},
        )["FunctionArn"]
        variables = properties.get("Environment", {}).get("Variables", {})
        self._functions[name] = {
            "handler": properties["Handler"],
            "arn": arn,
            "memory": int(properties.get("MemorySize", 128)),
            "timeout": int(properties.get("Timeout", 3)),
            "environment": {
                key: str(self.resolve(stack, value)) for key, value in variables.items()
            },
        }
        return {"ref": name, "Arn": arn}

    @staticmethod
    def _role() -> str:
        iam = boto3.client("iam", region_name=REGION)
        name = f"workflow-{uuid.uuid4().hex[:8]}"
        return iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    # --- moto corrections -----------------------------------------------------------------

    @contextlib.contextmanager
    def _patched(self) -> Iterator[None]:
        recorder = self._recorder
        harness = self

        def record_wait(_self: Any, env: Any, wait_seconds: int) -> None:
            with recorder.lock:
                recorder.waits.append(int(wait_seconds))

        class _RecordingTime:
            @staticmethod
            def sleep(seconds: float) -> None:
                with recorder.lock:
                    recorder.retry_sleeps.append(float(seconds))

        def invoke(
            _backend: Any,
            function_name: str,
            qualifier: Any,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:
            with recorder.lock:
                recorder.calls["lambda.Invoke"].append({"FunctionName": function_name})
            return harness._invoke(function_name, body, response_headers)

        original_client_for = aws_sdk_task.boto_client_for

        def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            client = original_client_for(
                region=region, service=service, state_credentials=state_credentials
            )
            client.meta.events.register("before-parameter-build", harness._remember_params)
            client.meta.events.register("before-call", harness._answer)
            return client

        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", record_wait))
            stack.enter_context(mock.patch.object(retrier_decl, "time", _RecordingTime))
            stack.enter_context(mock.patch.object(LambdaSimpleBackend, "invoke", invoke))
            stack.enter_context(
                mock.patch.object(StepFunctionResponse, "send_task_failure", _send_task_failure)
            )
            stack.enter_context(mock.patch.object(aws_sdk_task, "boto_client_for", client_for))
            stack.enter_context(
                mock.patch.object(
                    aws_sdk_task.StateTaskServiceAwsSdk,
                    "_normalise_service_error_name",
                    staticmethod(self._service_error_name),
                )
            )
            stack.enter_context(mock.patch.dict(aws_sdk_task._SERVICE_ERROR_NAMES, {}))
            # Step Functions' aws-sdk service names botocore spells otherwise (moto knows two).
            stack.enter_context(
                mock.patch.dict(
                    service_task.StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES,
                    SFN_TO_BOTOCORE,
                )
            )
            stack.enter_context(
                mock.patch.object(
                    aws_sdk_task.StateTaskServiceAwsSdk,
                    "_eval_service_task",
                    _json_result(aws_sdk_task.StateTaskServiceAwsSdk._eval_service_task),
                )
            )
            for patch in _json_path_patches():
                stack.enter_context(patch)
            sns_recording = self._record_sns_publish()
            stack.enter_context(sns_recording)
            for patch in extension_patches(self, client_for, self._service_error_name):
                stack.enter_context(patch)
            yield

    def _service_error_name(self, api_or_service: str) -> str:
        # moto passes the resource's service name here (e.g. "rekognition").
        return SDK_ERROR_SERVICE_NAMES.get(api_or_service.lower(), api_or_service)

    def _record_sns_publish(self) -> Any:
        from moto.sns.models import SNSBackend

        original = SNSBackend.publish
        recorder = self._recorder

        def publish(backend: Any, message: str, **kwargs: Any) -> Any:
            with recorder.lock:
                recorder.calls["sns.Publish"].append({"Message": message, **kwargs})
            return original(backend, message, **kwargs)

        return mock.patch.object(SNSBackend, "publish", publish)

    @staticmethod
    def _remember_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        # before-call only sees the serialized request; keep the API parameters for it.
        context["api_params"] = dict(params)

    def _answer(self, model: Any, context: Mapping[str, Any], **_: Any) -> Any:
        service = model.service_model.service_name
        key = f"{service}.{model.name}"
        params = context.get("api_params", {})
        with self._recorder.lock:
            self._recorder.calls[key].append(dict(params))
        if service not in self._scripted_services():
            return None  # moto answers
        answers = self._scripts.get(key)
        if not answers:
            raise UnscriptedCallError(f"{key} was called with {dict(params)} but not scripted")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if callable(answer):
            answer = answer(params)
        if isinstance(answer, AwsError):
            response = AWSResponse("https://scripted", answer.status, {}, None)
            return response, {
                "Error": {"Code": answer.code, "Message": answer.message},
                "ResponseMetadata": {"HTTPStatusCode": answer.status, "RequestId": "scripted"},
            }
        if self._strict_answers and model.output_shape is not None:
            # A scripted answer is one the service could give: botocore's output shape.
            validate_parameters(dict(answer), model.output_shape)
            _check_enums(answer, model.output_shape, key)
        response = AWSResponse("https://scripted", 200, {}, None)
        return response, {
            **answer,
            "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "scripted"},
        }

    def _record_handler_call(self, key: str, params: dict[str, Any]) -> None:
        with self._recorder.lock:
            self._recorder.handler_calls[key].append(params)

    def _scripted_services(self) -> set[str]:
        return {key.split(".", 1)[0] for key in self._scripts}

    def _invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        name = (
            function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        )
        function = self._functions[name]
        module_name, handler_name = function["handler"].rsplit(".", 1)
        event = json.loads(body) if body else {}
        context = _LambdaContext(name, function["arn"], function["memory"], function["timeout"])
        with (
            self._invocation_lock,
            handler_running(),
            mock.patch.dict(os.environ, {"AWS_REGION": REGION, **function["environment"]}),
        ):
            module = importlib.import_module(module_name)
            if module_name not in self._cold_started:
                # A cold start under this function's environment: module-level Powertools
                # and boto3 objects read it at import, and another test may have imported
                # the module first.
                module = importlib.reload(module)
                self._cold_started.add(module_name)
            handler = getattr(module, handler_name)
            try:
                result = handler(event, context)
            except Exception as error:  # reported to Step Functions as Lambda does
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps(
                    {
                        "errorType": type(error).__name__,
                        "errorMessage": str(error),
                        "stackTrace": [],
                    }
                ).encode()
        return json.dumps(result).encode()
