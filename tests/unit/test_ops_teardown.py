"""``ops teardown``: nothing left billing outside the stacks.

SageMaker endpoints, endpoint configurations and models, SSM, S3, Lambda, Step Functions, STS
and CloudFormation run in moto. Rekognition Custom Labels is not in moto: its calls are answered
by a botocore ``Stubber`` on a real client, which checks every request and response against the
service model and the order of the calls (pagination, a stop refused while a version is still
starting, throttling, a version stuck STOPPING past the bound). moto has no StopTrainingJob and
keeps every training job Completed: a ``before-call`` handler answers the one and the backend is
told the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_cdk import App, Environment, Stack
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

import ops.teardown as teardown
from ops import common
from ops.cli import main
from stacks.config import load_environment
from stacks.storage_stack import bucket_name

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
PROJECT = "imgclf-dev-image-classifier"  # dev's project: <prefix>-<env>-<project_name>
PROJECT_ARN = f"arn:aws:rekognition:{REGION}:{ACCOUNT}:project/{PROJECT}/1700000000000"
ENDPOINT = "imgclf-dev-classifier"
PARAMETER = "/imgclf-dev/rekognition/model-version-arn"
DATA = f"imgclf-dev-data-{ACCOUNT}-{REGION}"
ARTIFACTS = f"imgclf-dev-artifacts-{ACCOUNT}-{REGION}"
T0 = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
#: The endpoint variant's scalable target, as Application Auto Scaling names it.
SCALABLE = {
    "ServiceNamespace": "sagemaker",
    "ResourceId": f"endpoint/{ENDPOINT}/variant/AllTraffic",
    "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
}


def version_arn(name: str) -> str:
    return f"{PROJECT_ARN.rsplit('/', 1)[0]}/version/{name}/1700000001"


def versions(**statuses: str) -> list[dict[str, Any]]:
    return [
        {"ProjectVersionArn": version_arn(name), "Status": status, "CreationTimestamp": T0}
        for name, status in statuses.items()
    ]


class ScriptedRekognition:
    """Rekognition Custom Labels answers, queued in the order the teardown must ask."""

    def __init__(self) -> None:
        self.client = boto3.client("rekognition", region_name=REGION)
        self.stubber = Stubber(self.client)

    def project(self, found: bool = True, name: str = PROJECT) -> None:
        projects = [
            {
                "ProjectArn": PROJECT_ARN,
                "Status": "CREATED",
                "CreationTimestamp": T0,
                "Datasets": [
                    {"DatasetArn": f"{PROJECT_ARN}/dataset/train/1", "DatasetType": "TRAIN"},
                    {"DatasetArn": f"{PROJECT_ARN}/dataset/test/1", "DatasetType": "TEST"},
                ],
            }
        ]
        self.stubber.add_response(
            "describe_projects",
            {"ProjectDescriptions": projects if found else []},
            {"ProjectNames": [name]},
        )

    def pages(self, *pages: list[dict[str, Any]]) -> None:
        """One listing of the project's versions, in these pages."""
        for number, page in enumerate(pages):
            expected: dict[str, Any] = {"ProjectArn": PROJECT_ARN, "MaxResults": 100}
            if number:
                expected["NextToken"] = f"page-{number}"
            response: dict[str, Any] = {"ProjectVersionDescriptions": page}
            if number < len(pages) - 1:
                response["NextToken"] = f"page-{number + 1}"
            self.stubber.add_response("describe_project_versions", response, expected)

    def stop(self, name: str, answer: str = "STOPPING") -> None:
        parameters = {"ProjectVersionArn": version_arn(name)}
        if answer == "ResourceInUseException":
            self.stubber.add_client_error(
                "stop_project_version",
                service_error_code=answer,
                service_message="The version is starting",
                http_status_code=400,
                expected_params=parameters,
            )
        else:
            self.stubber.add_response("stop_project_version", {"Status": answer}, parameters)

    def throttle(self, operation: str, expected: dict[str, Any]) -> None:
        self.stubber.add_client_error(
            operation,
            service_error_code="ThrottlingException",
            service_message="Rate exceeded",
            http_status_code=400,
            expected_params=expected,
        )


@dataclass
class Account:
    rekognition: ScriptedRekognition
    sagemaker: Any
    s3: Any
    ssm: Any
    lambda_: Any
    stepfunctions: Any
    cloudformation: Any
    executions: list[str] = field(default_factory=list)
    pauses: list[float] = field(default_factory=list)
    stopped_jobs: list[str] = field(default_factory=list)

    def endpoint_exists(self) -> bool:
        return any(
            e["EndpointName"] == ENDPOINT for e in self.sagemaker.list_endpoints()["Endpoints"]
        )

    def config_names(self) -> list[str]:
        return sorted(
            c["EndpointConfigName"]
            for c in self.sagemaker.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]
        )

    def model_names(self) -> list[str]:
        return sorted(m["ModelName"] for m in self.sagemaker.list_models()["Models"])


def _stack(cloudformation: Any, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def _deploy_endpoint(sagemaker: Any, role: str, names: list[str]) -> None:
    for name in names:
        sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=role,
            PrimaryContainer={"Image": "685385470294.dkr.ecr.eu-west-1.amazonaws.com/ic:1"},
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("COLUMNS", "250")
    with mock_aws():
        rekognition = ScriptedRekognition()
        real = common.client_factory

        def client(service: str, region: str | None) -> Any:
            return rekognition.client if service == "rekognition" else real(service, region)

        monkeypatch.setattr(common, "client_factory", client)
        now = [0.0]
        found = Account(
            rekognition=rekognition,
            sagemaker=common.boto3_client("sagemaker", REGION),
            s3=common.boto3_client("s3", REGION),
            ssm=common.boto3_client("ssm", REGION),
            lambda_=common.boto3_client("lambda", REGION),
            stepfunctions=common.boto3_client("stepfunctions", REGION),
            cloudformation=common.boto3_client("cloudformation", REGION),
        )

        def pause(seconds: float) -> None:
            found.pauses.append(seconds)
            now[0] += seconds

        monkeypatch.setattr(teardown, "clock", lambda: now[0])
        monkeypatch.setattr(teardown, "sleep", pause)
        with rekognition.stubber:
            yield found
            rekognition.stubber.assert_no_pending_responses()


@pytest.fixture
def deployed(account: Account) -> Account:
    """dev, deployed and in use: model versions, an endpoint, runs and a job in flight."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="hosting", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ours = [f"imgclf-dev-ic-{n:012x}" for n in range(5)]
    _deploy_endpoint(account.sagemaker, role, [*ours, "imgclf-dev2-ic-000000000001", "other"])
    account.sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ours[-1])
    # The deploy workflow's autoscaling: the variant's scalable target and its policy.
    scaling = boto3.client("application-autoscaling", region_name=REGION)
    scaling.register_scalable_target(**SCALABLE, MinCapacity=2, MaxCapacity=4)
    scaling.put_scaling_policy(
        **SCALABLE,
        PolicyName=f"{ENDPOINT}-invocations-per-instance",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 600.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )
    account.ssm.put_parameter(Name=PARAMETER, Value=version_arn("v1"), Type="String")
    for bucket in (DATA, ARTIFACTS):
        account.s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
    account.s3.put_object(Bucket=DATA, Key="datasets/flowers/rose/a.png", Body=b"x")
    function = account.lambda_.create_function(
        FunctionName="imgclf-dev-controller",
        Runtime="python3.12",
        Role=role,
        Handler="handler.lambda_handler",
        Code={"ZipFile": b"PK\x05\x06" + bytes(18)},
    )["FunctionName"]
    machines = {}
    for concern in ("rekognition", "sagemaker"):
        machines[concern] = account.stepfunctions.create_state_machine(
            name=f"{concern}-training",
            definition=json.dumps(
                {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 9, "End": True}}}
            ),
            roleArn=role,
        )["stateMachineArn"]
        account.executions.append(
            account.stepfunctions.start_execution(
                stateMachineArn=machines[concern], name=f"{concern}-run"
            )["executionArn"]
        )
    _stack(account.cloudformation, "imgclf-dev-storage", {"DataBucketName": DATA})
    _stack(
        account.cloudformation,
        "imgclf-dev-rekognition-inference",
        {"ControllerFunctionName": function},
    )
    _stack(
        account.cloudformation,
        "imgclf-dev-rekognition-training",
        {"TrainingStateMachineArn": machines["rekognition"]},
    )
    _stack(
        account.cloudformation,
        "imgclf-dev-sagemaker",
        {"TrainingStateMachineArn": machines["sagemaker"], "EndpointName": ENDPOINT},
    )
    account.sagemaker.create_training_job(
        TrainingJobName="imgclf-dev-ic-0000000000ff",
        AlgorithmSpecification={"TrainingImage": "x", "TrainingInputMode": "File"},
        RoleArn=role,
        OutputDataConfig={"S3OutputPath": f"s3://{ARTIFACTS}/models/"},
        ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    backend = sagemaker_backends[ACCOUNT][REGION]
    backend.training_jobs["imgclf-dev-ic-0000000000ff"].training_job_status = "InProgress"

    def stop_training_job(params: dict[str, Any], **_: Any) -> Any:
        account.stopped_jobs.append(json.loads(params["body"])["TrainingJobName"])
        return AWSResponse("https://sagemaker", 200, {}, None), {}

    account.sagemaker.meta.events.register(
        "before-call.sagemaker.StopTrainingJob", stop_training_job
    )
    return account


def run(*arguments: str) -> int:
    return main(["teardown", "--env", "dev", *arguments])


# --- the whole teardown ------------------------------------------------------------------------


def test_teardown_stops_and_deletes_everything_that_bills_and_says_what_remains(
    deployed: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "client_factory", _sharing(deployed))
    scripted = deployed.rekognition
    scripted.project()
    # Found: two pages. v3 is still starting: its first stop is refused.
    scripted.pages(
        versions(v1="RUNNING", v2="STOPPED"), versions(v3="STARTING", v4="TRAINING_IN_PROGRESS")
    )
    scripted.stop("v1")
    scripted.stop("v3", "ResourceInUseException")
    scripted.pages(
        versions(v1="STOPPING", v2="STOPPED"), versions(v3="RUNNING", v4="TRAINING_IN_PROGRESS")
    )
    scripted.stop("v3")  # asked again once it runs
    scripted.pages(
        versions(v1="STOPPED", v2="STOPPED"), versions(v3="STOPPING", v4="TRAINING_IN_PROGRESS")
    )
    scripted.pages(
        versions(v1="STOPPED", v2="STOPPED"), versions(v3="STOPPED", v4="TRAINING_IN_PROGRESS")
    )

    assert run("--yes") == 0

    out = capsys.readouterr().out
    assert not deployed.endpoint_exists()
    scaling = boto3.client("application-autoscaling", region_name=REGION)
    assert scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert deployed.config_names() == ["imgclf-dev2-ic-000000000001", "other"]
    assert deployed.model_names() == ["imgclf-dev2-ic-000000000001", "other"]
    assert deployed.ssm.describe_parameters()["Parameters"] == []
    concurrency = deployed.lambda_.get_function_concurrency(FunctionName="imgclf-dev-controller")
    assert concurrency["ReservedConcurrentExecutions"] == 0
    for execution in deployed.executions:
        status = deployed.stepfunctions.describe_execution(executionArn=execution)["status"]
        assert status == "ABORTED"
    assert deployed.stopped_jobs == ["imgclf-dev-ic-0000000000ff"]
    assert deployed.pauses == [teardown.POLL_SECONDS] * 2  # three looks, two pauses
    for fragment in (
        "Environment dev in account 123456789012, region eu-west-1",
        "stop model version v1 (RUNNING, about $4 per inference-unit hour)",
        "stop model version v3 (STARTING",
        f"delete the endpoint's scaling policy {ENDPOINT}-invocations-per-instance",
        f"deregister the scalable target endpoint/{ENDPOINT}/variant/AllTraffic",
        f"delete the SageMaker endpoint {ENDPOINT} (InService",
        "delete 5 endpoint configuration(s) and 5 model(s) named imgclf-dev-ic-*",
        f"delete the SSM parameter {PARAMETER}",
        "no model version is running and the endpoint is gone",
        # What remains, and why.
        f"Rekognition project {PROJECT}: 2 dataset(s) (TRAIN, TEST), 4 model version(s)",
        "Model version v4 is still TRAINING: Rekognition cannot stop a training",
        f"Bucket {DATA} (data) holds objects: CloudFormation cannot delete a non-empty bucket",
        f"Bucket {ARTIFACTS} (artifacts) is empty: cdk destroy deletes it.",
        "KMS key alias/imgclf-dev: scheduled for deletion by cdk destroy",
        "aws lambda delete-function-concurrency --function-name imgclf-dev-controller",
        "Nothing of this environment is left billing outside its stacks.",
    ):
        assert fragment in out, fragment
    assert "access-logs" not in out  # no such bucket: nothing to say


def _sharing(account: Account) -> Any:
    """Clients for the teardown: the scripted Rekognition, and the test's own moto clients (so
    handlers registered on them answer the teardown's calls too)."""
    clients = {
        "rekognition": account.rekognition.client,
        "sagemaker": account.sagemaker,
        "s3": account.s3,
        "ssm": account.ssm,
        "lambda": account.lambda_,
        "stepfunctions": account.stepfunctions,
        "cloudformation": account.cloudformation,
    }
    return lambda service, region: clients.get(service) or common.boto3_client(service, region)


def test_a_version_stuck_stopping_ends_the_wait_at_the_bound(
    deployed: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "client_factory", _sharing(deployed))
    scripted = deployed.rekognition
    scripted.project()
    scripted.pages(versions(v1="RUNNING"))
    scripted.stop("v1")
    looks = 1 + int(60 / teardown.POLL_SECONDS)  # at 0, 15, 30, 45 and 60 s of a 1-minute bound
    for _ in range(looks):
        scripted.pages(versions(v1="STOPPING"))

    assert run("--yes", "--timeout", "1") == 4

    out = capsys.readouterr().out
    assert "Still pending after 1 minutes: v1 STOPPING." in out
    assert "It may still bill: run ops teardown --env dev again" in out
    assert len(deployed.pauses) == looks - 1
    # The wait is bounded, the rest is done all the same.
    assert not deployed.endpoint_exists()
    assert deployed.ssm.describe_parameters()["Parameters"] == []
    assert deployed.config_names() == ["imgclf-dev2-ic-000000000001", "other"]


def test_throttled_calls_are_retried_with_backoff(
    deployed: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "client_factory", _sharing(deployed))
    scripted = deployed.rekognition
    scripted.throttle("describe_projects", {"ProjectNames": [PROJECT]})
    scripted.throttle("describe_projects", {"ProjectNames": [PROJECT]})
    scripted.project()
    scripted.pages(versions(v1="RUNNING"))
    scripted.throttle("stop_project_version", {"ProjectVersionArn": version_arn("v1")})
    scripted.stop("v1")
    scripted.pages(versions(v1="STOPPED"))

    assert run("--yes") == 0

    assert deployed.pauses == [1.0, 2.0, 1.0]  # backoff per call, no polling pause needed
    assert "stop requested for v1" in capsys.readouterr().out


def test_throttling_that_never_ends_is_an_environment_problem(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(teardown.CALL_ATTEMPTS):
        account.rekognition.throttle("describe_projects", {"ProjectNames": [PROJECT]})

    assert run("--yes") == 3

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "ThrottlingException" in error
    assert account.pauses == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_lists_are_read_page_by_page(
    deployed: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "client_factory", _sharing(deployed))
    monkeypatch.setattr(teardown, "PAGE_SIZE", 2)
    pages: list[dict[str, Any]] = []
    deployed.sagemaker.meta.events.register(
        "provide-client-params.sagemaker.ListEndpointConfigs",
        lambda params, **_: pages.append(dict(params)),
    )
    scripted = deployed.rekognition
    scripted.project(found=False)

    assert run("--yes") == 0

    assert [page.get("MaxResults") for page in pages] == [2, 2, 2]  # 5 of ours, 2 a page
    assert "NextToken" in pages[1]
    assert deployed.config_names() == ["imgclf-dev2-ic-000000000001", "other"]


# --- confirmation ----------------------------------------------------------------------------


def test_without_a_terminal_and_without_yes_nothing_is_asked_or_done(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(teardown, "stdin_is_interactive", lambda: False)

    def no_aws(service: str, region: str | None) -> Any:
        raise AssertionError(f"{service} was called")

    monkeypatch.setattr(common, "client_factory", no_aws)

    assert run() == 2

    error = capsys.readouterr().err
    assert error == (
        "error: teardown asks for confirmation and there is no terminal to ask on: run it in "
        "a terminal, or pass --yes\n"
    )


def test_a_wrong_answer_changes_nothing(
    deployed: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "client_factory", _sharing(deployed))
    monkeypatch.setattr(teardown, "stdin_is_interactive", lambda: True)
    questions: list[str] = []
    monkeypatch.setattr(teardown, "ask", lambda question: questions.append(question) or "yes")
    deployed.rekognition.project()
    deployed.rekognition.pages(versions(v1="RUNNING"))

    assert run() == 130

    assert questions == ["Type the environment's name (dev) to go on: "]
    assert "Not confirmed: nothing was changed." in capsys.readouterr().out
    assert deployed.endpoint_exists()
    assert len(deployed.config_names()) == 7
    assert deployed.ssm.describe_parameters()["Parameters"] != []
    concurrency = deployed.lambda_.get_function_concurrency(FunctionName="imgclf-dev-controller")
    assert "ReservedConcurrentExecutions" not in concurrency


def test_the_environment_name_confirms(
    deployed: Account, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "client_factory", _sharing(deployed))
    monkeypatch.setattr(teardown, "stdin_is_interactive", lambda: True)
    monkeypatch.setattr(teardown, "ask", lambda question: " dev\n")
    deployed.rekognition.project(found=False)

    assert run() == 0

    assert not deployed.endpoint_exists()


# --- nothing there, retained data ------------------------------------------------------------


def test_an_environment_never_deployed_has_nothing_to_do(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    account.rekognition.project(found=False)

    assert run("--yes") == 0

    out = capsys.readouterr().out
    assert "Nothing to stop or delete outside the stacks." in out
    assert "Rekognition project" not in out
    assert "Bucket" not in out


def test_retained_buckets_and_key_are_named_with_their_reason(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    prod_data = f"imgclf-prod-data-{ACCOUNT}-{REGION}"
    account.s3.create_bucket(
        Bucket=prod_data, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    account.s3.put_object(Bucket=prod_data, Key="manifests/train.manifest", Body=b"{}\n")
    account.rekognition.project(found=False, name="imgclf-prod-image-classifier")

    assert main(["teardown", "--env", "prod", "--yes"]) == 0

    out = capsys.readouterr().out
    assert (
        f"Bucket {prod_data} (data) holds objects: kept by design (removal_policy retain)"
    ) in out
    assert "KMS key alias/imgclf-prod: kept (removal_policy retain), about $1/month" in out
    assert "Log groups of the functions and workflows: kept (retain)" in out


def test_bucket_names_are_those_of_the_storage_stack(cdk_context: dict[str, Any]) -> None:
    config = load_environment(cdk_context, "prod")
    stack = Stack(App(), "Names", env=Environment(account=config.account, region=config.region))
    assert config.account is not None
    assert config.region is not None
    assert teardown.bucket_names(config, config.account, config.region) == {
        purpose: bucket_name(config, stack, purpose) for purpose in teardown.BUCKET_PURPOSES
    }
