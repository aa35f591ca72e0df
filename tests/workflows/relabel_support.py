"""Shared setup of the relabel workflow tests: a dev environment with a short wait, review
records of both pipelines, and a scripted Ground Truth (moto has no labeling jobs)."""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from aws_cdk.assertions import Template

from stacks.config import load_environment
from stacks.environment import build_environment
from tests.infra.conftest import make_app
from tests.workflows.harness import ACCOUNT, REGION, LocalWorkflow

STACK = "imgclf-dev-relabel"
DATA_BUCKET = f"imgclf-dev-data-{ACCOUNT}-{REGION}"
ARTIFACTS_BUCKET = f"imgclf-dev-artifacts-{ACCOUNT}-{REGION}"
WORKTEAM = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/reviewers"
MANIFEST_PREFIX = "training/manifests/relabel/"
REKOGNITION_REVIEW = "review/rekognition/imgclf-dev-image-classifier/1700000000000/"
SAGEMAKER_REVIEW = "sagemaker/review/"
NOW = datetime.datetime(2026, 12, 1, 22, 0, tzinfo=datetime.UTC)
#: dev with a wait that fits a test: tasks available 1 h, deadline 2 h, a poll every 20 min.
TRAINING_MACHINE = "TrainingWorkflowStateMachine18C7753F"
SHORT_WAIT = {"task_availability_hours": 1, "poll_minutes": 20}
MAX_POLLS = 6


def relabel_templates(cdk_context: dict[str, Any], **relabel: Any) -> dict[str, dict[str, Any]]:
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"]["relabel"] = {**SHORT_WAIT, **relabel}
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in stacks.all()}


def machine_id(template: Mapping[str, Any]) -> str:
    (logical_id,) = [
        key
        for key, value in template["Resources"].items()
        if value["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    return logical_id


def create_buckets() -> Any:
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (DATA_BUCKET, ARTIFACTS_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def put_rekognition_review(s3: Any, image_key: str, label: str = "bicycle") -> str:
    """A record as the Rekognition consumer writes it (imgclf.rekognition.review/2)."""
    key = f"{REKOGNITION_REVIEW}{image_key}.json"
    record = {
        "schema": "imgclf.rekognition.review/2",
        "input": {"bucket": DATA_BUCKET, "key": image_key, "wiring": "eventbridge", "size": 9},
        "result_key": f"results/rekognition/x/{image_key}.json",
        "top_label": label,
        "top_confidence": 0.61,
        "review_threshold": 0.8,
    }
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=json.dumps(record).encode())
    return key


def put_sagemaker_review(s3: Any, image_key: str, label: str = "motorcycle") -> str:
    """A record as RecordForReview writes it: the classify workflow's state."""
    key = f"{SAGEMAKER_REVIEW}{image_key}.json"
    record = {
        "image": {
            "s3_uri": f"s3://{DATA_BUCKET}/{image_key}",
            "bucket": DATA_BUCKET,
            "key": image_key,
            "version_id": None,
            "size": 9,
            "format": "JPEG",
            "content_type": "image/jpeg",
        },
        "threshold": 0.9,
        "inference": {"label": label, "confidence": 0.55, "probabilities": [0.45, 0.55]},
    }
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=json.dumps(record).encode())
    return key


def answer_line(
    ref: str, job: str, label: str, labels: tuple[str, ...], created: str = "2026-12-01T23:10:00"
) -> dict[str, Any]:
    """An output manifest line of an image classification job (Ground Truth developer guide,
    "Labeling job output data")."""
    return {
        "source-ref": ref,
        job: labels.index(label),
        f"{job}-metadata": {
            "class-name": label,
            "confidence": 0.93,
            "type": "groundtruth/image-classification",
            "job-name": f"labeling-job/{job}",
            "human-annotated": "yes",
            "creation-date": created,
        },
    }


def unanswered_line(ref: str, job: str) -> dict[str, Any]:
    """An object whose tasks expired: no label, ``failure-reason`` in its metadata."""
    return {
        "source-ref": ref,
        f"{job}-metadata": {
            "failure-reason": "ClientError: The task expired before a worker submitted it",
            "type": "groundtruth/image-classification",
            "job-name": f"labeling-job/{job}",
            "human-annotated": "yes",
            "creation-date": "2026-12-01T23:10:00",
        },
    }


@dataclass
class GroundTruth:
    """A scripted Ground Truth: CreateLabelingJob remembers the job; DescribeLabelingJob answers
    ``statuses`` in turn (the last repeats) and, once Completed, the workers' answers are in
    the output manifest (``answers``: source-ref -> label, or None for an unanswered one)."""

    s3: Any
    statuses: list[str]
    answers: dict[str, str | None] = field(default_factory=dict)
    labels: tuple[str, ...] = ("bicycle", "motorcycle")
    created: list[dict[str, Any]] = field(default_factory=list)
    described: int = 0

    def install(self, workflow: LocalWorkflow) -> None:
        workflow.script("sagemaker", "ListLabelingJobs", {"LabelingJobSummaryList": []})
        workflow.script("stepfunctions", "ListExecutions", {"executions": []})
        # The training workflow as a real (trivial) state machine: StartTraining starts it.
        boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name=TRAINING_MACHINE,
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/training",
        )
        workflow.script("sagemaker", "CreateLabelingJob", self.create)
        workflow.script("sagemaker", "DescribeLabelingJob", self.describe)
        workflow.script("sagemaker", "StopLabelingJob", {})

    @property
    def job(self) -> str:
        return str(self.created[0]["LabelingJobName"])

    def create(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.created.append(dict(params))
        return {"LabelingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/{self.job}"}

    def describe(self, params: Mapping[str, Any]) -> dict[str, Any]:
        status = self.statuses[min(self.described, len(self.statuses) - 1)]
        self.described += 1
        created = self.created[0]
        counters = {"TotalLabeled": 0, "HumanLabeled": 0, "Unlabeled": len(self.answers)}
        answer: dict[str, Any] = {
            "LabelingJobStatus": status,
            "LabelCounters": counters,
            "CreationTime": NOW,
            "LastModifiedTime": NOW,
            "JobReferenceCode": "ref",
            "LabelingJobName": self.job,
            "LabelingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:labeling-job/{self.job}",
            "LabelAttributeName": created["LabelAttributeName"],
            "InputConfig": created["InputConfig"],
            "OutputConfig": created["OutputConfig"],
            "RoleArn": created["RoleArn"],
            "LabelCategoryConfigS3Uri": created["LabelCategoryConfigS3Uri"],
            "HumanTaskConfig": created["HumanTaskConfig"],
        }
        if status == "Failed":
            answer["FailureReason"] = "ClientError: the workteam does not exist"
        if status == "Completed":
            labeled = sum(1 for label in self.answers.values() if label)
            answer["LabelCounters"] = {
                "TotalLabeled": labeled,
                "HumanLabeled": labeled,
                "Unlabeled": len(self.answers) - labeled,
            }
            output = created["OutputConfig"]["S3OutputPath"]
            uri = f"{output}{self.job}/manifests/output/output.manifest"
            answer["LabelingJobOutput"] = {"OutputDatasetS3Uri": uri}
            self.write_output(uri)
        return answer

    def write_output(self, uri: str) -> None:
        lines = [
            answer_line(ref, self.job, label, self.labels)
            if label
            else unanswered_line(ref, self.job)
            for ref, label in self.answers.items()
        ]
        bucket, key = uri[5:].split("/", 1)
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)


def keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def read_lines(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines() if line.strip()]
