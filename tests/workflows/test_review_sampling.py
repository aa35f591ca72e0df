"""Sampling confident SageMaker predictions for review, through the synthesized batch workflow
with the real batch function: with ``relabel.sample_confident_share`` set, exactly the images
the key hash picks get a ``sampled`` review record (besides the low-confidence ones), and the
relabel collector reads them."""

from __future__ import annotations

import copy
import json
from typing import Any

from aws_cdk.assertions import Template
from moto import mock_aws

from relabel.records import source_ref
from shared.review_sampling import sampled
from stacks.config import load_environment
from stacks.environment import build_environment
from tests.infra.conftest import make_app
from tests.workflows.harness import MOTO_CONFIG, LocalWorkflow
from tests.workflows.sagemaker_support import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    INPUT_PREFIX,
    REVIEW_PREFIX,
    STACK,
    create_buckets,
    endpoint_by_marker,
    image,
    machine_id,
    read_json,
    script_endpoint,
)

SHARE = 0.5
BATCH = f"{INPUT_PREFIX}sampled/"


def test_sampled_confident_images_get_review_records(cdk_context: dict[str, Any]) -> None:
    context = copy.deepcopy(cdk_context)
    context["environments"]["dev"]["relabel"] = {"sample_confident_share": SHARE}
    stacks = build_environment(make_app(context), load_environment(context, "dev"))
    templates = {s.stack_name: Template.from_stack(s).to_json() for s in stacks.all()}
    with mock_aws(config=MOTO_CONFIG):
        s3 = create_buckets()
        workflow = LocalWorkflow(
            templates, STACK, machine_id(templates[STACK], "InferenceClassifyBatch")
        )
        script_endpoint(workflow, endpoint_by_marker)
        keys = [f"{BATCH}bike-{n}.jpg" for n in range(12)] + [f"{BATCH}unsure.jpg"]
        for key in keys:
            marker = "unsure" if "unsure" in key else "bicycle"
            s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=image(9_000, marker=marker))

        run = workflow.run({"prefix": BATCH}, name="sampled", timeout=120)

        assert run.status == "SUCCEEDED", run.cause
        listed = s3.list_objects_v2(Bucket=ARTIFACTS_BUCKET, Prefix=REVIEW_PREFIX)
        recorded = {item["Key"] for item in listed.get("Contents", [])}
        confident = [key for key in keys if "unsure" not in key]
        expected = {f"{REVIEW_PREFIX}{key}.json" for key in confident if sampled(key, SHARE)}
        assert 0 < len(expected) < len(confident)  # the hash picks some, not all
        assert recorded == expected | {f"{REVIEW_PREFIX}{BATCH}unsure.jpg.json"}
        for key in expected:
            record = read_json(s3, ARTIFACTS_BUCKET, key)
            assert record["reason"] == "sampled"
            assert record["inference"]["confidence"] >= record["threshold"]
            assert (
                source_ref(record, "sagemaker")
                == f"s3://{DATA_BUCKET}/{key[len(REVIEW_PREFIX) : -5]}"
            )
        assert json.dumps(run.output["low_confidence"]) == "1"
