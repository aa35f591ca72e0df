"""The drift baseline of a trained Rekognition version, written beside its evaluation report.

Called by the ``Evaluate`` step once the report is written: label shares of the test set (the
report's per-label support) and of the training set (the training manifest snapshot at
``TrainingDataResult.Output.Assets[].GroundTruthManifest``), the abstention rate (the report's),
each test image's top counted confidence (the evaluation snapshot), and the byte sizes and
formats of the images the manifests name (ListObjectsV2 of their folders: at most
:data:`MAX_LIST_PAGES` pages, so a huge dataset costs a bounded time; what was not found is
said in the baseline's notes).

A baseline that cannot be built never fails the evaluation: the step logs why and the drift
evaluator stays quiet for that version (its report says there is no baseline).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from contracts import drift as contract
from contracts.s3_layout import version_report_prefix
from rekognition_training.evaluation_sources import EvaluationSources, manifest_lines
from shared.drift_baseline import ManifestTally, build_baseline, confidence_section, encode
from shared.evaluation.metrics import MetricsReport
from shared.s3_location import S3Location

logger = Logger()

#: ListObjectsV2 pages read for the image sizes, over every folder the manifests name.
MAX_LIST_PAGES = 20


def training_manifests(description: Mapping[str, Any]) -> tuple[S3Location, ...]:
    """The training manifest snapshots of a ``ProjectVersionDescription`` (may be none)."""
    output = (description.get("TrainingDataResult") or {}).get("Output") or {}
    found = []
    for asset in output.get("Assets") or []:
        node = (asset.get("GroundTruthManifest") or {}).get("S3Object") or {}
        if isinstance(node.get("Bucket"), str) and isinstance(node.get("Name"), str):
            found.append(S3Location(bucket=node["Bucket"], key=node["Name"]))
    return tuple(found)


def image_sizes(s3: Any, sources: Sequence[str], notes: list[str]) -> list[int]:
    """Byte sizes of the ``s3://`` images named, from listings of their folders (bounded)."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for uri in sources:
        if not uri.startswith("s3://"):
            continue
        bucket, _, key = uri[5:].partition("/")
        wanted.setdefault((bucket, posixpath.dirname(key)), set()).add(key)
    sizes: list[int] = []
    pages = 0
    for (bucket, folder), keys in sorted(wanted.items()):
        token: str | None = None
        while pages < MAX_LIST_PAGES:
            request: dict[str, Any] = {"Bucket": bucket, "Prefix": f"{folder}/" if folder else ""}
            if token:
                request["ContinuationToken"] = token
            response = s3.list_objects_v2(**request)
            pages += 1
            sizes += [
                int(item["Size"]) for item in response.get("Contents", []) if item["Key"] in keys
            ]
            token = response.get("NextContinuationToken")
            if not response.get("IsTruncated") or not token:
                break
    named = sum(len(keys) for keys in wanted.values())
    if len(sizes) < named:
        notes.append(
            f"Image sizes: {len(sizes)} of the {named} images the manifests name were found "
            f"(at most {MAX_LIST_PAGES} listing pages are read)."
        )
    return sizes


def write_baseline(
    s3: Any,
    *,
    bucket: str,
    job: Mapping[str, Any],
    description: Mapping[str, Any],
    sources: EvaluationSources,
    report: MetricsReport,
) -> str | None:
    """Write ``baseline.json`` beside the report; its S3 URI, or None when it could not be."""
    prefix = version_report_prefix(job["project_name"], job["version_name"])
    notes: list[str] = []
    try:
        test = ManifestTally()
        test.add_lines(manifest_lines(s3, sources.manifests))
        training = ManifestTally()
        training_sources = training_manifests(description)
        training.add_lines(manifest_lines(s3, training_sources))
        if not training_sources:
            notes.append("The version lists no training manifest snapshot: no training shares.")
        try:
            sizes = image_sizes(s3, training.sources + test.sources, notes)
        except ClientError as error:
            notes.append(f"Image sizes unknown: listing the images failed ({error}).")
            sizes = []
        n_images = report["n_images"]
        document = build_baseline(
            pipeline=contract.REKOGNITION,
            model=job["version_name"],
            test={
                "images": n_images,
                "label_counts": {
                    label: scores["support"] for label, scores in report["per_label"].items()
                },
                "abstention_rate": report["n_abstentions"] / n_images if n_images else None,
                "confidence": confidence_section(test.top),
            },
            training=(
                {"images": training.images, "label_counts": dict(sorted(training.truth.items()))}
                if training.images
                else None
            ),
            sizes=sizes,
            formats=training.formats() + test.formats(),
            notes=notes,
        )
        key = prefix + contract.BASELINE_FILE
        s3.put_object(Bucket=bucket, Key=key, Body=encode(document), ContentType="application/json")
    except (ClientError, BotoCoreError, KeyError, TypeError, ValueError) as error:
        logger.warning("No drift baseline for this version", extra={"error": str(error)})
        return None
    return f"s3://{bucket}/{key}"
