"""SageMaker image classification: validate -> classify -> confident? as Step Functions workflows.

Three state machines share one per-image logic (only S3 references travel between states, never
image bytes, so any image up to the endpoint's 6 MB request limit works):

- ``ClassifyImage`` (Standard): ``{"s3_uri": ..., "confidence_threshold"?: ...}``. ``Validate``
  (Lambda: object exists, size, JPEG/PNG by magic bytes) -> ``Classify`` (Lambda: reads the
  validated object version, invokes the endpoint, maps the JSON answer to the class names) ->
  ``Confident?`` (Choice on the threshold). Confident: ``Classified`` with the inference.
  Low confidence: ``RecordForReview`` (JSON record under the review prefix) -> fails with
  ``LowConfidence`` (notified only with ``sagemaker.notify_low_confidence``).
- ``ClassifyImageSync``: the same definition as an Express state machine, for request/response
  callers (``StartSyncExecution``).
- ``ClassifyBatch`` (Standard): ``{"prefix": ..., "confidence_threshold"?: ...}``.
  ``ValidateRequest`` (Lambda) refuses a prefix outside the inputs, a threshold outside [0, 1]
  and any unknown field (naming the closest known one). A Distributed Map lists the prefix
  (ItemReader) and hands each Express child a batch of images (ItemBatcher), which one Lambda
  validates and classifies with bounded concurrent endpoint calls (the same per-image logic;
  MaxConcurrency derived from the endpoint's capacity); every child's per-image results go to
  the artifacts bucket (ResultWriter), then ``Summarize`` (Lambda) counts labels,
  low-confidence images and failures image by image, the batch fails if more images failed
  than tolerated, and one summary is published to the alert topic.

Every Task is guarded (timeout, jittered retry of transient errors, catch -> notify -> fail).
The package: ``construct`` (functions, workflows, metrics), ``single`` and ``batch`` (states),
``permissions`` (grants, the Map's S3 reader and writer), ``names`` (shared names and limits).
"""

from stacks.pipelines.sagemaker_inference.construct import SageMakerInference
from stacks.pipelines.sagemaker_inference.names import (
    BATCH_MAP_LABEL,
    BATCH_RESULTS_PREFIX,
    ENDPOINT_TRANSIENT_ERRORS,
    LOW_CONFIDENCE,
    MAX_IMAGE_BYTES,
    S3_SDK_TRANSIENT_ERRORS,
    STORAGE_TRANSIENT_ERRORS,
)

__all__ = [
    "BATCH_MAP_LABEL",
    "BATCH_RESULTS_PREFIX",
    "ENDPOINT_TRANSIENT_ERRORS",
    "LOW_CONFIDENCE",
    "MAX_IMAGE_BYTES",
    "S3_SDK_TRANSIENT_ERRORS",
    "STORAGE_TRANSIENT_ERRORS",
    "SageMakerInference",
]
