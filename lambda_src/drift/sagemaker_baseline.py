"""The baseline of a SageMaker training job, built the first time its endpoint is watched.

The SageMaker workflow trains with the built-in algorithm and keeps no evaluation report (its
gate reads the job's final ``validation:accuracy``), so the drift evaluator writes the baseline
itself, at ``sagemaker/reports/<job>/baseline.json``, from the training data the job was
given (the configured channels of the data bucket):

- label shares: the ``.lst`` lists of ``validation_lst/`` (the "test" side: the held-out set
  the gate was measured on) and ``train_lst/`` (the ``image`` format; a ``recordio`` job has
  no readable labels, and those sides are left out);
- image byte sizes and formats: a listing of ``train/`` and ``validation/`` (``image``
  format), at most :data:`MAX_LIST_PAGES` pages;
- no confidences and no abstention rate: the job's validation predictions are not kept, so
  the confidence and abstention figures are left out for SageMaker (the report says so).

Built from the data as it is when first needed: a channel rewritten since the job ran gives
the new data's shares (the notes say when the baseline was built).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contracts import drift as contract
from shared.drift_baseline import build_baseline

MAX_LIST_PAGES = 20
#: Bytes read of one .lst file at most (a list of a million images is ~40 MB).
MAX_LIST_BYTES = 64 * 1024 * 1024
_IMAGE_FORMATS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png"}


@dataclass(frozen=True)
class TrainingData:
    """Where the job's channels are, and what the class indexes mean."""

    bucket: str
    prefix: str
    data_format: str
    class_names: Sequence[str]


def _list(s3: Any, bucket: str, prefix: str, budget: list[int]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: str | None = None
    while budget[0] > 0:
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            request["ContinuationToken"] = token
        response = s3.list_objects_v2(**request)
        budget[0] -= 1
        found += response.get("Contents", [])
        token = response.get("NextContinuationToken")
        if not response.get("IsTruncated") or not token:
            break
    return found


def lst_label_counts(text: str, class_names: Sequence[str]) -> Counter[str]:
    """Label counts of an ``.lst`` list: ``index<TAB>label<TAB>path`` per line."""
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        try:
            index = int(float(fields[1]))
        except ValueError:
            continue
        counts[class_names[index] if 0 <= index < len(class_names) else f"class {index}"] += 1
    return counts


def _channel_labels(
    s3: Any, data: TrainingData, channel: str, budget: list[int], notes: list[str]
) -> Counter[str] | None:
    counts: Counter[str] = Counter()
    for item in _list(s3, data.bucket, f"{data.prefix}{channel}/", budget):
        if not item["Key"].endswith(".lst"):
            continue
        if int(item.get("Size", 0)) > MAX_LIST_BYTES:
            notes.append(f"{item['Key']} is over {MAX_LIST_BYTES} bytes: not read.")
            continue
        body = s3.get_object(Bucket=data.bucket, Key=item["Key"])["Body"].read()
        counts += lst_label_counts(body.decode("utf-8", errors="replace"), data.class_names)
    return counts or None


def build_sagemaker_baseline(s3: Any, data: TrainingData, job_name: str) -> dict[str, Any]:
    """The baseline document of ``job_name`` (see the module docstring)."""
    notes = [
        "Built by the drift evaluator from the training channels as they were when the "
        "endpoint was first watched; SageMaker keeps no validation predictions, so the "
        "confidence and abstention figures are left out."
    ]
    budget = [MAX_LIST_PAGES]
    test = training = None
    sizes: list[int] = []
    formats: Counter[str] = Counter()
    if data.data_format == "image":
        validation = _channel_labels(s3, data, "validation_lst", budget, notes)
        trained = _channel_labels(s3, data, "train_lst", budget, notes)
        if validation:
            test = {
                "images": sum(validation.values()),
                "label_counts": dict(sorted(validation.items())),
                "abstention_rate": None,
                "confidence": None,
            }
        if trained:
            training = {
                "images": sum(trained.values()),
                "label_counts": dict(sorted(trained.items())),
            }
        for channel in ("train", "validation"):
            for item in _list(s3, data.bucket, f"{data.prefix}{channel}/", budget):
                key = item["Key"]
                extension = key[key.rfind(".") :].lower() if "." in key else ""
                if extension in _IMAGE_FORMATS:
                    formats[_IMAGE_FORMATS[extension]] += 1
                    sizes.append(int(item["Size"]))
        if budget[0] <= 0:
            notes.append(f"Listing stopped after {MAX_LIST_PAGES} pages: the figures are partial.")
    else:
        notes.append("RecordIO channels: no label lists or image files to read.")
    return build_baseline(
        pipeline=contract.SAGEMAKER,
        model=job_name,
        test=test,
        training=training,
        sizes=sizes,
        formats=formats,
        notes=notes,
    )
