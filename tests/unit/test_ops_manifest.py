"""``ops manifest``: a training manifest from a folder per label, local or in S3 (moto).

The manifest must be what the rest of the app reads: ``ops train start`` accepts it (the
workflow's own validation, run by the command the manifest command prints), and the evaluation
parser (``shared.evaluation.manifest``) reads its ground truth once Rekognition's prediction
attributes are added to it, as they are in an evaluation manifest snapshot.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import ops.manifest as command
from ops import common
from ops.cli import main
from rekognition_inference import images
from shared import images as formats
from shared.evaluation.manifest import parse_manifest_lines
from shared.evaluation.metrics import compute_metrics
from stacks.config import load_environment
from tests.image_files import jpeg, png

REGION = "eu-west-1"
DATA = "imgclf-dev-data-123456789012-eu-west-1"
CREATED = datetime(2026, 11, 20, 14, 25, 1, 123456, tzinfo=UTC)
STAND_IN = {"StartAt": "Accepted", "States": {"Accepted": {"Type": "Succeed"}}}


@dataclass
class Deployed:
    s3: Any
    stepfunctions: Any
    state_machine: str
    ranged_reads: list[str]

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=DATA, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def manifest(self, key: str) -> list[dict[str, Any]]:
        body = self.s3.get_object(Bucket=DATA, Key=key)["Body"].read().decode()
        return [json.loads(line) for line in body.splitlines()]


def _stack(cloudformation: Any, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(command, "now", lambda: CREATED)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (DATA, "team-photos"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        role = boto3.client("iam").create_role(RoleName="training", AssumeRolePolicyDocument="{}")
        stepfunctions = boto3.client("stepfunctions", region_name=REGION)
        machine = stepfunctions.create_state_machine(
            name="training", definition=json.dumps(STAND_IN), roleArn=role["Role"]["Arn"]
        )["stateMachineArn"]
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        _stack(cloudformation, "imgclf-dev-storage", {"DataBucketName": DATA})
        _stack(
            cloudformation, "imgclf-dev-rekognition-training", {"TrainingStateMachineArn": machine}
        )
        reads: list[str] = []

        def record(params: dict[str, Any], **_: Any) -> None:
            if "Range" in params:
                reads.append(f"{params['Key']} {params['Range']}")

        # The command's own client (aws_client) shares the default session's event system.
        boto3._get_default_session().events.register("provide-client-params.s3.GetObject", record)
        yield Deployed(s3, stepfunctions, machine, reads)
        boto3._get_default_session().events.unregister("provide-client-params.s3.GetObject", record)


def photos(root: Path, counts: dict[str, int]) -> Path:
    """``root/<label>/<label>-<n>.png|jpg`` images, alternating formats."""
    for label, count in counts.items():
        folder = root / label
        folder.mkdir(parents=True)
        for n in range(count):
            if n % 2:
                (folder / f"{label}-{n:02d}.jpg").write_bytes(jpeg(320, 240))
            else:
                (folder / f"{label}-{n:02d}.png").write_bytes(png(80, 64))
    return root


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0, error
    assert error.startswith("error: ")
    return error


# --- the image checks shared with inference --------------------------------------------------


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (png(80, 64), (80, 64)),
        (png(4096, 64), (4096, 64)),
        (jpeg(320, 240), (320, 240)),
        (jpeg(1024, 768, metadata=200_000), (1024, 768)),  # frame header past 64 KiB
    ],
)
def test_dimensions_are_read_from_the_header(data: bytes, size: tuple[int, int]) -> None:
    assert formats.dimensions(data) == size


def test_a_jpeg_frame_past_the_short_head_needs_the_long_one() -> None:
    data = jpeg(1024, 768, metadata=200_000)
    assert formats.dimensions(data[: images.HEADER_BYTES]) is None
    assert formats.dimensions(data[: images.LONG_HEADER_BYTES]) == (1024, 768)


@pytest.mark.parametrize(
    ("data", "size", "reason"),
    [
        (png(80, 64), None, None),
        (jpeg(4096, 4096), None, None),
        (b"", 0, "empty file"),
        (png(80, 64), 16 * 1024 * 1024, "larger than the 15 MB Rekognition reads"),
        (b"GIF89a" + bytes(20), None, "GIF image: DetectCustomLabels accepts only JPEG and PNG"),
        (b"%PDF-1.7\n" + bytes(20), None, "neither JPEG nor PNG"),
        (png(63, 100), None, "63x100 pixels: smaller than 64 pixels on a side"),
        (jpeg(4097, 300), None, "4097x300 pixels: larger than 4096 pixels on a side"),
        (png(80, 64)[:20], None, "no image size in its first 20 bytes"),
    ],
)
def test_the_inference_checks_decide_what_a_training_image_may_be(
    data: bytes, size: int | None, reason: str | None
) -> None:
    problem = images.problem(data, len(data) if size is None else size)
    if reason is None:
        assert problem is None
    else:
        assert problem is not None
        assert reason in problem


# --- local folders ------------------------------------------------------------------------


def test_check_only_reads_the_folder_and_calls_no_aws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_aws(service: str, region: str | None) -> Any:
        raise AssertionError(f"{service} was called")

    monkeypatch.setattr(common, "client_factory", no_aws)
    monkeypatch.setenv("COLUMNS", "200")
    folder = photos(tmp_path / "flowers", {"rose": 5, "tulip": 3})

    code = main(["manifest", "--env", "dev", str(folder), "--check", "--test-fraction", "0.4"])

    assert code == 0
    out = capsys.readouterr().out
    assert "│     0 │ rose  │      5 │     3 │    2 │" in out
    assert "│     1 │ tulip │      3 │     2 │    1 │" in out
    assert "Checked: 8 images in 2 labels; nothing was uploaded or written" in out


def test_a_local_folder_is_uploaded_and_its_manifests_start_training(
    deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = photos(tmp_path / "flowers", {"rose": 10, "tulip": 6, "daisy": 4})
    (folder / "tulip" / "more").mkdir()
    (folder / "tulip" / "more" / "late.png").write_bytes(png(64, 64))
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden: not looked at

    code = main(["manifest", "--env", "dev", str(folder), "--test-fraction", "0.25", "--seed", "3"])

    assert code == 0
    out = capsys.readouterr().out
    uploaded = deployed.keys("datasets/flowers/")
    assert len(uploaded) == 21
    assert "datasets/flowers/tulip/more/late.png" in uploaded
    head = deployed.s3.head_object(Bucket=DATA, Key="datasets/flowers/rose/rose-01.jpg")
    assert head["ContentType"] == "image/jpeg"
    train = deployed.manifest("manifests/flowers/train.manifest")
    test = deployed.manifest("manifests/flowers/test.manifest")
    # Stratified: round(n x 0.25) per label, at least one.
    assert Counter(line["label-metadata"]["class-name"] for line in test) == {
        "rose": 2,
        "tulip": 2,
        "daisy": 1,
    }
    assert len(train) + len(test) == 21
    sources = {line["source-ref"] for line in train + test}
    assert sources == {f"s3://{DATA}/{key}" for key in uploaded}
    # Class indexes follow the sorted label names.
    assert {line["label-metadata"]["class-name"]: line["label"] for line in train} == {
        "daisy": 0,
        "rose": 1,
        "tulip": 2,
    }
    assert train[0]["label-metadata"] == {
        "class-name": "daisy",
        "confidence": 1,
        "type": "groundtruth/image-classification",
        "job-name": "labeling-job/flowers",
        "human-annotated": "yes",
        "creation-date": "2026-11-20T14:25:01.123456",
    }
    # The printed next step works as printed.
    command_line = next(line.strip() for line in out.splitlines() if "ops train start" in line)
    assert command_line == (
        f"ops train start --env dev --manifest s3://{DATA}/manifests/flowers/train.manifest "
        f"--test-manifest s3://{DATA}/manifests/flowers/test.manifest"
    )
    assert main(command_line.split()[1:]) == 0
    (execution,) = deployed.stepfunctions.list_executions(stateMachineArn=deployed.state_machine)[
        "executions"
    ]
    sent = deployed.stepfunctions.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(sent["input"])["test_data"] == {
        "manifest_s3_uri": f"s3://{DATA}/manifests/flowers/test.manifest"
    }


def test_the_split_is_the_same_for_the_same_seed_and_differs_for_another(
    deployed: Deployed, tmp_path: Path
) -> None:
    folder = photos(tmp_path / "flowers", {"rose": 12, "tulip": 12})

    def held_out(*options: str) -> list[str]:
        assert (
            main(["manifest", "--env", "dev", str(folder), "--test-fraction", "0.5", *options]) == 0
        )
        return [line["source-ref"] for line in deployed.manifest("manifests/flowers/test.manifest")]

    first = held_out("--seed", "7")
    assert held_out("--seed", "7") == first
    assert held_out("--seed", "8") != first


def test_the_manifest_reads_as_ground_truth_in_an_evaluation_snapshot(
    deployed: Deployed, tmp_path: Path
) -> None:
    folder = photos(tmp_path / "shapes", {"circle": 6, "square": 4, "triangle": 4})
    assert main(["manifest", "--env", "dev", str(folder), "--test-fraction", "0.5"]) == 0
    test = deployed.manifest("manifests/shapes/test.manifest")
    # What Rekognition adds to each test image's line: a prediction (here always right).
    snapshot = []
    for line in test:
        predicted = copy.deepcopy(line)
        predicted["rekognition-custom-labels-evaluation-0"] = line["label"]
        predicted["rekognition-custom-labels-evaluation-0-metadata"] = {
            "class-name": line["label-metadata"]["class-name"],
            "confidence": 0.97,
            "type": "groundtruth/image-classification",
            "job-name": "rekognition-custom-labels-evaluation-job",
            "rekognition-custom-labels-evaluation-details": {
                "version": 1,
                "is-true-positive": True,
                "is-present-in-ground-truth": True,
                "ground-truth-labelling-jobs": ["labeling-job/shapes"],
            },
        }
        snapshot.append(json.dumps(predicted).encode() + b"\n")

    report = compute_metrics(parse_manifest_lines(snapshot, source="snapshot"))

    assert report["n_images"] == len(test) == 7
    assert report["labels"] == ["circle", "square", "triangle"]
    assert report["accuracy"] == 1.0


def test_files_that_cannot_be_training_images_are_refused_with_their_reasons(
    deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = photos(tmp_path / "flowers", {"rose": 3, "tulip": 3})
    (folder / "rose" / "tiny.png").write_bytes(png(32, 32))
    (folder / "tulip" / "anim.gif").write_bytes(b"GIF89a" + bytes(30))
    (folder / "stray.jpg").write_bytes(jpeg())

    assert main(["manifest", "--env", "dev", str(folder)]) == 2

    captured = capsys.readouterr()
    assert "3 file(s) cannot be in a Custom Labels dataset" in captured.err
    for fragment in (
        "stray.jpg: not in a label folder",
        "tiny.png: 32x32 pixels: smaller than 64 pixels on a side",
        "anim.gif: GIF image: DetectCustomLabels accepts only JPEG and PNG",
    ):
        assert fragment in captured.out, fragment
    assert deployed.keys() == []  # nothing uploaded, nothing written

    assert main(["manifest", "--env", "dev", str(folder), "--skip-invalid"]) == 0
    assert len(deployed.manifest("manifests/flowers/train.manifest")) == 6
    assert "3 files left out" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("counts", "options", "fragment"),
    [
        ({"rose": 3}, [], "one label only ('rose'): a classifier needs at least 2 label folders"),
        (
            {"rose": 3, "tulip": 1},
            ["--test-fraction", "0.2"],
            "--test-fraction: labels 'tulip' have 1 image",
        ),
        ({"rose": 2, "tulip": 2}, ["--test-fraction", "1"], "between 0 and 1 exclusive"),
        ({"rose": 2, "tulip": 2}, ["--name", "no spaces"], "--name: 1-64 letters"),
        (
            {"rose": 2, "tulip": 2},
            ["--attribute", "rekognition-custom-labels-evaluation-x"],
            "--attribute",
        ),
    ],
)
def test_datasets_that_cannot_train_are_refused_before_any_upload(
    deployed: Deployed,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    counts: dict[str, int],
    options: list[str],
    fragment: str,
) -> None:
    folder = photos(tmp_path / "flowers", counts)

    assert main(["manifest", "--env", "dev", str(folder), *options]) == 2

    assert fragment in error_line(capsys)
    assert deployed.keys() == []


def test_images_are_never_uploaded_where_inference_would_classify_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    context_copy: dict[str, Any],
) -> None:
    context_copy["environments"]["dev"]["rekognition"] = {"input_prefix": "datasets/"}
    monkeypatch.setattr(command, "environment", lambda name: load_environment(context_copy, name))
    folder = photos(tmp_path / "flowers", {"rose": 2, "tulip": 2})

    assert main(["manifest", "--env", "dev", str(folder)]) == 2

    assert "overlaps rekognition.input_prefix (datasets/)" in error_line(capsys)


# --- an S3 prefix ---------------------------------------------------------------------------


def test_an_s3_prefix_is_read_page_by_page_with_ranged_reads(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(command, "LIST_PAGE_SIZE", 2)
    for n in range(3):
        deployed.s3.put_object(Bucket=DATA, Key=f"upload/cats/c{n}.png", Body=png(100, 100))
        deployed.s3.put_object(Bucket=DATA, Key=f"upload/dogs/d{n}.jpg", Body=jpeg(200, 150))
    big = jpeg(1024, 768, metadata=200_000)
    deployed.s3.put_object(Bucket=DATA, Key="upload/dogs/exif.jpg", Body=big)
    deployed.s3.put_object(Bucket=DATA, Key="upload/dogs/", Body=b"")  # a console "folder"
    deployed.s3.put_object(Bucket=DATA, Key="upload/readme.txt", Body=b"hello")

    code = main(["manifest", "--env", "dev", f"s3://{DATA}/upload/", "--skip-invalid"])

    assert code == 0
    train = deployed.manifest("manifests/upload/train.manifest")
    assert sorted(line["source-ref"] for line in train) == sorted(
        f"s3://{DATA}/upload/{name}"
        for name in (
            "cats/c0.png", "cats/c1.png", "cats/c2.png",
            "dogs/d0.jpg", "dogs/d1.jpg", "dogs/d2.jpg", "dogs/exif.jpg",
        )
    )  # fmt: skip
    assert deployed.keys("datasets/") == []  # nothing copied: the images stay where they are
    # One ranged read per image; a second, longer one where the frame header lies further on.
    assert sorted(deployed.ranged_reads) == sorted(
        [f"upload/cats/c{n}.png bytes=0-65535" for n in range(3)]
        + [f"upload/dogs/d{n}.jpg bytes=0-65535" for n in range(3)]
        + ["upload/dogs/exif.jpg bytes=0-65535", "upload/dogs/exif.jpg bytes=0-1048575"]
    )
    assert f"s3://{DATA}/upload/readme.txt: not in a label folder" in capsys.readouterr().out


def test_an_s3_prefix_outside_the_data_bucket_is_refused(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed.s3.put_object(Bucket="team-photos", Key="x/cats/c.png", Body=png())

    assert main(["manifest", "--env", "dev", "s3://team-photos/x/"]) == 2

    assert f"the images must be in the environment's data bucket {DATA}" in error_line(capsys)


def test_the_storage_stack_must_be_deployed(
    deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("cloudformation", region_name=REGION).delete_stack(StackName="imgclf-dev-storage")
    folder = photos(tmp_path / "flowers", {"rose": 2, "tulip": 2})

    assert main(["manifest", "--env", "dev", str(folder)]) == 3

    assert "stack imgclf-dev-storage is not deployed" in error_line(capsys)
