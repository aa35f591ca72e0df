"""``ops teardown``: stop and delete what an environment runs outside its stacks, before
``cdk destroy`` deletes the stacks.

    ops teardown --env dev [--yes] [--timeout MINUTES]

CloudFormation does not own what the workflows create at run time, so ``cdk destroy`` leaves it
billing: a started Rekognition model (about $4 per inference-unit hour; its automatic stop, the
model controller, is deleted with the inference stack), the SageMaker endpoint (about $84 a
month for one ml.m5.large) with its endpoint configurations and models, a SageMaker training
job in progress, and the SSM parameter naming the published model version. In order:

1. pause the model controller (reserved concurrency 0), so it cannot start the model again;
2. stop running executions of the two training workflows, so none starts a model or creates an
   endpoint afterwards, and SageMaker training jobs in progress (``<prefix>-<env>-ic-*``);
3. stop every RUNNING or STARTING version of the environment's project; delete the endpoint's
   scaling policies and deregister its scalable target (Application Auto Scaling, which the
   deploy workflow registered), then delete the endpoint;
4. wait (``--timeout``) until no version is STARTING, RUNNING or STOPPING and the endpoint is
   gone, asking again when a stop was refused (a version still starting) or throttled;
5. delete the endpoint configurations and models named ``<prefix>-<env>-ic-*`` and the SSM
   parameter;
6. say what remains and why: the project with its datasets and stopped versions, the buckets
   (retained, or holding objects so that ``cdk destroy`` cannot delete them), the key.

Everything is looked up first (read-only) and shown; nothing changes until the operator types
the environment's name, or ``--yes`` is given. Lists are read page by page; throttled calls are
retried with backoff. Exit codes: 0 nothing left billing, 2 bad arguments or no confirmation
possible (no terminal and no ``--yes``), 3 environment problem, 4 the wait ended with something
still stopping or deleting (run it again), 130 not confirmed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape

from contracts.naming import BUCKET_PURPOSES, bucket_name
from contracts.outputs import CONTROLLER_FUNCTION_NAME, TRAINING_STATE_MACHINE_ARN
from ops.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STILL_RUNNING,
    StackNotDeployedError,
    UsageError,
    aws_client,
    aws_failure,
    environment,
    error_code,
    minutes,
    stack_outputs,
    stdin_is_interactive,
)
from ops.endpoint_scaling import find_scaling, remove_scaling
from stacks.config import EnvironmentConfig
from stacks.endpoint_scaling import scaling_resource_id

#: Seconds between two looks while waiting for stops and deletions.
POLL_SECONDS = 15.0
DEFAULT_TIMEOUT_MINUTES = 30.0
#: Version statuses that bill inference hours, and those a stop applies to.
BILLING_STATUSES = frozenset({"STARTING", "RUNNING", "STOPPING"})
STOPPABLE_STATUSES = frozenset({"STARTING", "RUNNING"})
#: Error codes of a throttled call, retried with backoff.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
    }
)
#: Items per page of the list calls (their maximum; tests make it small to see the paging).
PAGE_SIZE = 100
#: A throttled call is tried this many times (backoff 1, 2, 4, ... s) before giving up.
CALL_ATTEMPTS = 6
#: Stacks whose outputs name what to pause or stop (missing ones are skipped).
CONCERNS = ("Storage", "RekognitionTraining", "RekognitionInference", "SageMaker")


def sleep(seconds: float) -> None:
    """Pause between polls (a seam for the tests)."""
    time.sleep(seconds)


def clock() -> float:
    """Seconds on a monotonic clock (a seam for the tests)."""
    return time.monotonic()


def ask(question: str) -> str:
    """The operator's answer (a seam for the tests)."""
    return input(question)


def make_console() -> Console:
    return Console()


def bucket_names(config: EnvironmentConfig, account: str, region: str) -> dict[str, str]:
    """The environment's bucket names, as ``stacks/storage_stack.py`` builds them
    (``contracts.naming``; a test checks them against the synthesized template)."""
    return {
        purpose: bucket_name(config.resource_name_prefix, purpose, account, region)
        for purpose in BUCKET_PURPOSES
    }


def _version_name(arn: str) -> str:
    """``v1`` of ``arn:...:project/NAME/version/v1/1700000000000``."""
    parts = arn.split("/")
    return parts[-2] if len(parts) >= 4 and parts[-3] == "version" else arn


@dataclass
class Findings:
    """What the environment has outside its stacks, as found before anything changes."""

    account: str
    region: str
    identity: str
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    project_arn: str | None = None
    datasets: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # version ARN -> status
    endpoint_status: str | None = None
    #: The endpoint variant's scalable target (registered) and its scaling policies' names.
    scalable_target: bool = False
    scaling_policies: list[str] = field(default_factory=list)
    endpoint_configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    training_jobs: list[str] = field(default_factory=list)
    executions: list[str] = field(default_factory=list)
    parameter: str | None = None  # its value, when it exists
    controller: str | None = None

    @property
    def billing_versions(self) -> dict[str, str]:
        return {arn: s for arn, s in self.versions.items() if s in BILLING_STATUSES}


class Teardown:
    """One teardown of one environment: :meth:`find`, :meth:`plan`, :meth:`act`, :meth:`remains`."""

    def __init__(self, config: EnvironmentConfig, console: Console, timeout_minutes: float):
        self.config = config
        self.console = console
        self.timeout_seconds = timeout_minutes * 60
        self._clients: dict[str, Any] = {}
        self.job_prefix = config.sagemaker.job_name_prefix(config.resource_name_prefix)
        self.endpoint = config.sagemaker.endpoint_full_name(config.resource_name_prefix)
        self.project = config.rekognition.project_name
        self.stop_requested: set[str] = set()
        self.still_billing: list[str] = []

    def aws(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = aws_client(service, self.config.region)
        return self._clients[service]

    def call(self, service: str, operation: str, **parameters: Any) -> Any:
        """One AWS call, retried with backoff while it is throttled."""
        delay = 1.0
        for attempt in range(1, CALL_ATTEMPTS + 1):
            try:
                return getattr(self.aws(service), operation)(**parameters)
            except ClientError as error:
                if error_code(error) not in THROTTLING_CODES or attempt == CALL_ATTEMPTS:
                    raise
            sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def pages(self, service: str, operation: str, key: str, **parameters: Any) -> Iterator[Any]:
        """Every item under ``key`` of every page (``NextToken`` paging)."""
        token: str | None = None
        while True:
            page = self.call(
                service, operation, **parameters, **({"NextToken": token} if token else {})
            )
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return

    # ----------------------------------------------------------------------------------------
    # find (read-only)
    # ----------------------------------------------------------------------------------------

    def find(self) -> Findings:
        identity = self.call("sts", "get_caller_identity")
        cloudformation = self.aws("cloudformation")
        found = Findings(
            account=str(identity["Account"]),
            region=str(cloudformation.meta.region_name),
            identity=str(identity.get("Arn", "")),
        )
        for concern in CONCERNS:
            try:
                found.outputs[concern] = stack_outputs(self.config, concern, cloudformation)
            except StackNotDeployedError:
                continue
        found.controller = found.outputs.get("RekognitionInference", {}).get(
            CONTROLLER_FUNCTION_NAME
        )
        for concern in ("RekognitionTraining", "SageMaker"):
            machine = found.outputs.get(concern, {}).get(TRAINING_STATE_MACHINE_ARN)
            if machine:
                found.executions += [
                    str(item["executionArn"])
                    for item in self.pages(
                        "stepfunctions",
                        "list_executions",
                        "executions",
                        stateMachineArn=machine,
                        statusFilter="RUNNING",
                    )
                ]
        self._find_rekognition(found)
        self._find_sagemaker(found)
        try:
            parameter = self.call("ssm", "get_parameter", Name=self.config.model_version_parameter)
            found.parameter = str(parameter["Parameter"]["Value"])
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise
        return found

    def _find_rekognition(self, found: Findings) -> None:
        projects = self.call("rekognition", "describe_projects", ProjectNames=[self.project])
        descriptions = projects.get("ProjectDescriptions", [])
        if not descriptions:
            return
        project = descriptions[0]
        found.project_arn = str(project["ProjectArn"])
        found.datasets = [
            str(dataset.get("DatasetType", "?")) for dataset in project.get("Datasets", [])
        ]
        found.versions = self._version_statuses(found.project_arn)

    def _version_statuses(self, project_arn: str) -> dict[str, str]:
        return {
            str(version["ProjectVersionArn"]): str(version.get("Status", "?"))
            for version in self.pages(
                "rekognition",
                "describe_project_versions",
                "ProjectVersionDescriptions",
                ProjectArn=project_arn,
                MaxResults=PAGE_SIZE,
            )
        }

    def _find_sagemaker(self, found: Findings) -> None:
        found.endpoint_status = self._endpoint_status()
        find_scaling(self, found)
        ours = f"{self.job_prefix}-"
        found.endpoint_configs = [
            str(item["EndpointConfigName"])
            for item in self.pages(
                "sagemaker",
                "list_endpoint_configs",
                "EndpointConfigs",
                NameContains=self.job_prefix,
                MaxResults=PAGE_SIZE,
            )
            if str(item["EndpointConfigName"]).startswith(ours)
        ]
        found.models = [
            str(item["ModelName"])
            for item in self.pages(
                "sagemaker",
                "list_models",
                "Models",
                NameContains=self.job_prefix,
                MaxResults=PAGE_SIZE,
            )
            if str(item["ModelName"]).startswith(ours)
        ]
        found.training_jobs = [
            str(item["TrainingJobName"])
            for item in self.pages(
                "sagemaker",
                "list_training_jobs",
                "TrainingJobSummaries",
                NameContains=self.job_prefix,
                StatusEquals="InProgress",
                MaxResults=PAGE_SIZE,
            )
            if str(item["TrainingJobName"]).startswith(ours)
        ]

    def _endpoint_status(self) -> str | None:
        """The endpoint's status, or None once SageMaker no longer knows it."""
        try:
            return str(
                self.call("sagemaker", "describe_endpoint", EndpointName=self.endpoint)[
                    "EndpointStatus"
                ]
            )
        except ClientError as error:
            if error_code(error) == "ValidationException" and "Could not find" in str(error):
                return None
            raise

    # ----------------------------------------------------------------------------------------
    # plan and confirmation
    # ----------------------------------------------------------------------------------------

    def plan(self, found: Findings) -> list[str]:
        """What :meth:`act` will do, one line each (empty: nothing to stop or delete)."""
        lines = []
        if found.controller:
            lines.append(
                f"pause the model controller {found.controller} (reserved concurrency 0) so it "
                "cannot start the model again before the stacks are gone"
            )
        for execution in found.executions:
            lines.append(f"stop the running training workflow execution {execution}")
        for job in found.training_jobs:
            lines.append(f"stop the SageMaker training job {job} (billed per second)")
        for arn, status in sorted(found.billing_versions.items()):
            verb = "wait for" if status == "STOPPING" else "stop"
            lines.append(
                f"{verb} model version {_version_name(arn)} ({status}, about $4 per "
                "inference-unit hour)"
            )
        for policy in found.scaling_policies:
            lines.append(f"delete the endpoint's scaling policy {policy}")
        if found.scalable_target:
            lines.append(
                f"deregister the scalable target {scaling_resource_id(self.endpoint)} "
                "(Application Auto Scaling)"
            )
        if found.endpoint_status is not None:
            lines.append(
                f"delete the SageMaker endpoint {self.endpoint} ({found.endpoint_status}; "
                "billed per instance hour, about $84/month for one ml.m5.large)"
            )
        if found.endpoint_configs or found.models:
            lines.append(
                f"delete {len(found.endpoint_configs)} endpoint configuration(s) and "
                f"{len(found.models)} model(s) named {self.job_prefix}-*"
            )
        if found.parameter is not None:
            lines.append(f"delete the SSM parameter {self.config.model_version_parameter}")
        return lines

    # ----------------------------------------------------------------------------------------
    # act and wait
    # ----------------------------------------------------------------------------------------

    def act(self, found: Findings) -> bool:
        """Stop and delete; True when nothing is left billing when the wait ends."""
        if found.controller:
            self._pause_controller(found.controller)
        for execution in found.executions:
            self._ignoring(
                ("ExecutionDoesNotExist",),
                "stepfunctions",
                "stop_execution",
                executionArn=execution,
                error="Teardown",
                cause=f"ops teardown of environment {self.config.name}",
            )
            self._done(f"stopped execution {execution}")
        for job in found.training_jobs:
            self._ignoring(
                ("ValidationException",), "sagemaker", "stop_training_job", TrainingJobName=job
            )
            self._done(f"stop requested for training job {job}")
        if found.project_arn is not None:
            for arn, status in sorted(found.billing_versions.items()):
                if status in STOPPABLE_STATUSES:
                    self._request_stop(arn)
        remove_scaling(self, found)
        if found.endpoint_status is not None:
            self._delete_endpoint()
        finished = self._wait(found)
        for name in found.endpoint_configs:
            self._ignoring(
                ("ValidationException",),
                "sagemaker",
                "delete_endpoint_config",
                EndpointConfigName=name,
            )
        for name in found.models:
            self._ignoring(("ValidationException",), "sagemaker", "delete_model", ModelName=name)
        if found.endpoint_configs or found.models:
            self._done(
                f"deleted {len(found.endpoint_configs)} endpoint configuration(s) and "
                f"{len(found.models)} model(s)"
            )
        if found.parameter is not None:
            self._ignoring(
                ("ParameterNotFound",),
                "ssm",
                "delete_parameter",
                Name=self.config.model_version_parameter,
            )
            self._done(f"deleted {self.config.model_version_parameter}")
        return finished

    def _done(self, text: str) -> None:
        self.console.print(f"[green]done[/green] {escape(text)}", highlight=False, soft_wrap=True)

    def _ignoring(self, codes: tuple[str, ...], service: str, operation: str, **kw: Any) -> Any:
        """A call whose listed error codes mean "already done"."""
        try:
            return self.call(service, operation, **kw)
        except ClientError as error:
            if error_code(error) not in codes:
                raise
            return None

    def _pause_controller(self, function: str) -> None:
        try:
            self.call(
                "lambda",
                "put_function_concurrency",
                FunctionName=function,
                ReservedConcurrentExecutions=0,
            )
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            return
        self._done(f"paused {function}")

    def _request_stop(self, arn: str) -> bool:
        """Ask for a stop; False when the version cannot be stopped yet (still starting)."""
        try:
            self.call("rekognition", "stop_project_version", ProjectVersionArn=arn)
        except ClientError as error:
            if error_code(error) != "ResourceInUseException":
                raise
            return False
        self.stop_requested.add(arn)
        self._done(f"stop requested for {_version_name(arn)}")
        return True

    def _delete_endpoint(self) -> None:
        """Ask for the deletion; a refusal (not found, or still creating or updating: both
        ValidationException) leaves the decision to the wait, which looks again."""
        try:
            self.call("sagemaker", "delete_endpoint", EndpointName=self.endpoint)
        except ClientError as error:
            if error_code(error) == "ValidationException":
                return
            raise
        self._done(f"deletion of endpoint {self.endpoint} requested")

    def _wait(self, found: Findings) -> bool:
        """Until no version bills and the endpoint is gone, or the deadline; True if done."""
        waiting_versions = found.project_arn is not None and bool(found.billing_versions)
        waiting_endpoint = found.endpoint_status is not None
        if not (waiting_versions or waiting_endpoint):
            return True
        deadline = clock() + self.timeout_seconds
        billing: dict[str, str] = {}
        endpoint: str | None = None
        with self.console.status("waiting for the stops and deletions") as spinner:
            while True:
                if waiting_versions:
                    assert found.project_arn is not None
                    statuses = self._version_statuses(found.project_arn)
                    billing = {a: s for a, s in statuses.items() if s in BILLING_STATUSES}
                    for arn, status in sorted(billing.items()):
                        if status in STOPPABLE_STATUSES and arn not in self.stop_requested:
                            self._request_stop(arn)  # refused while starting, or started since
                if waiting_endpoint:
                    endpoint = self._endpoint_status()
                    if endpoint is not None and endpoint != "Deleting":
                        self._delete_endpoint()  # refused while creating or updating
                pending = [f"{_version_name(a)} {s}" for a, s in sorted(billing.items())]
                if endpoint is not None:
                    pending.append(f"endpoint {endpoint}")
                if not pending:
                    self._done("no model version is running and the endpoint is gone")
                    return True
                if clock() >= deadline:
                    self.still_billing = pending
                    return False
                spinner.update(f"waiting: {', '.join(pending)}")
                sleep(POLL_SECONDS)

    # ----------------------------------------------------------------------------------------
    # what remains
    # ----------------------------------------------------------------------------------------

    def remains(self, found: Findings) -> list[str]:
        """What is left in the account once the stacks are destroyed, and why."""
        lines = []
        if found.project_arn is not None:
            versions = len(found.versions)
            training = sorted(
                _version_name(arn)
                for arn, status in found.versions.items()
                if status == "TRAINING_IN_PROGRESS"
            )
            lines.append(
                f"Rekognition project {self.project}: {len(found.datasets)} dataset(s) "
                f"({', '.join(found.datasets) or 'none'}), {versions} model version(s). "
                "Kept: deleting a project deletes its trained versions and datasets for "
                "good. No charge while no version runs; delete it in the Rekognition console "
                "(Custom Labels > Projects) when it is no longer needed."
            )
            for name in training:
                lines.append(
                    f"Model version {name} is still TRAINING: Rekognition cannot stop a "
                    "training; it bills per training hour until it ends (it is not started: its "
                    "workflow was stopped)."
                )
        lines += self._bucket_lines(found)
        alias = f"alias/{self.config.resource_name_prefix}"
        if self.config.retain_data:
            lines.append(
                f"KMS key {alias}: kept (removal_policy retain), about $1/month; schedule its "
                "deletion once nothing it encrypts is needed (the buckets, retained log groups)."
            )
            lines.append(
                "Log groups of the functions and workflows: kept (retain), billed per GB stored "
                "until their retention expires them."
            )
        else:
            lines.append(
                f"KMS key {alias}: scheduled for deletion by cdk destroy (7-day waiting period, "
                "no charge meanwhile)."
            )
        if found.controller:
            lines.append(
                f"The model controller {found.controller} stays paused until cdk destroy deletes "
                "it; to resume instead: aws lambda delete-function-concurrency --function-name "
                f"{found.controller}"
            )
        return lines

    def _bucket_lines(self, found: Findings) -> list[str]:
        lines = []
        names = bucket_names(self.config, found.account, found.region)
        for purpose, name in names.items():
            holds = self._holds_objects(name)
            if holds is None:
                continue
            content = "holds objects" if holds else "is empty"
            if self.config.retain_data:
                lines.append(
                    f"Bucket {name} ({purpose}) {content}: kept by design (removal_policy "
                    "retain); S3 storage bills per GB-month."
                )
            elif holds:
                lines.append(
                    f"Bucket {name} ({purpose}) holds objects: CloudFormation cannot delete a "
                    "non-empty bucket, so cdk destroy fails on the storage stack until it is "
                    "emptied (every version: the console's Empty), or keeps it; S3 storage bills "
                    "per GB-month."
                )
            else:
                lines.append(f"Bucket {name} ({purpose}) is empty: cdk destroy deletes it.")
        return lines

    def _holds_objects(self, bucket: str) -> bool | None:
        """True/False whether any object version or delete marker is in it; None: no bucket."""
        try:
            listing = self.call("s3", "list_object_versions", Bucket=bucket, MaxKeys=1)
        except ClientError as error:
            if error_code(error) in ("NoSuchBucket", "404"):
                return None
            raise
        return bool(listing.get("Versions") or listing.get("DeleteMarkers"))


def command_teardown(arguments: argparse.Namespace) -> int:
    config = environment(arguments.env)
    if not arguments.yes and not stdin_is_interactive():
        raise UsageError(
            "teardown asks for confirmation and there is no terminal to ask on: run it in a "
            "terminal, or pass --yes"
        )
    console = make_console()
    teardown = Teardown(config, console, arguments.timeout)
    try:
        found = teardown.find()
        console.print(
            f"Environment [bold]{escape(config.name)}[/bold] in account {found.account}, "
            f"region {found.region} (as {escape(found.identity)})",
            highlight=False,
            soft_wrap=True,
        )
        plan = teardown.plan(found)
        if not plan:
            console.print("Nothing to stop or delete outside the stacks.", highlight=False)
            finished = True
        else:
            console.print("Teardown will:", highlight=False)
            for line in plan:
                console.print(f"  - {escape(line)}", highlight=False, soft_wrap=True)
            if not arguments.yes:
                answer = ask(f"Type the environment's name ({config.name}) to go on: ").strip()
                if answer != config.name:
                    console.print("Not confirmed: nothing was changed.", highlight=False)
                    return EXIT_INTERRUPTED
            finished = teardown.act(found)
        console.print("What remains, and why:", highlight=False)
        for line in teardown.remains(found):
            console.print(f"  - {escape(line)}", highlight=False, soft_wrap=True)
    except ClientError as error:
        raise aws_failure(error, "teardown stopped") from error
    if not finished:
        console.print(
            f"[red]Still pending after {arguments.timeout:g} minutes: "
            f"{escape(', '.join(teardown.still_billing))}.[/red] It may still bill: run "
            f"ops teardown --env {config.name} again, or check the consoles.",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_STILL_RUNNING
    console.print("Nothing of this environment is left billing outside its stacks.")
    return EXIT_OK


def register(commands: Any) -> None:
    """Add ``teardown`` to the ``ops`` subparsers."""
    parser = commands.add_parser(
        "teardown",
        help="stop and delete what bills outside the stacks (run by make destroy first)",
        description="Before cdk destroy: pause the model controller, stop running training "
        "workflows and SageMaker training jobs, stop every running version of the "
        "environment's Rekognition project, delete the SageMaker endpoint, its endpoint "
        "configurations and models and the SSM model parameter, wait until they are gone "
        "(--timeout), then list what remains and why (project, datasets, buckets, key). "
        "Asks for the environment's name first unless --yes.",
    )
    parser.add_argument("--env", required=True, help="environment name from cdk.json")
    parser.add_argument("--yes", action="store_true", help="do not ask (for scripts and CI)")
    parser.add_argument(
        "--timeout",
        type=minutes,
        default=DEFAULT_TIMEOUT_MINUTES,
        metavar="MINUTES",
        help=f"minutes to wait for stops and deletions (default {DEFAULT_TIMEOUT_MINUTES:g})",
    )
    parser.set_defaults(handler=command_teardown)
