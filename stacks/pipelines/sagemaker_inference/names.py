"""Names and limits the inference workflows, their functions and their tests share."""

from __future__ import annotations

from contracts.limits import SAGEMAKER_MAX_PAYLOAD_BYTES
from contracts.outputs import LOW_CONFIDENCE_ERROR
from contracts.s3_layout import SAGEMAKER_BATCH_RESULTS_PREFIX

#: Largest request a real-time endpoint accepts (InvokeEndpoint), hence the largest image
#: (the functions get it as MAX_IMAGE_BYTES; ``contracts.limits`` is the one definition).
MAX_IMAGE_BYTES = SAGEMAKER_MAX_PAYLOAD_BYTES
#: Where the Distributed Map's ResultWriter puts each batch (under ``<map run id>/``).
BATCH_RESULTS_PREFIX = SAGEMAKER_BATCH_RESULTS_PREFIX
#: The handlers' own transient errors (exception class names, see sagemaker_inference/model.py).
ENDPOINT_TRANSIENT_ERRORS: tuple[str, ...] = (
    "EndpointThrottledError",
    "EndpointUnavailableError",
    "EndpointModelError",
    "StorageThrottledError",
)
STORAGE_TRANSIENT_ERRORS: tuple[str, ...] = ("StorageThrottledError",)
#: aws-sdk S3 errors worth retrying: S3's unmodelled errors (SlowDown, InternalError, 503 all
#: arrive as S3.S3Exception). An aws-sdk integration raises no ``S3.SdkClientException``: Step
#: Functions names modelled errors and the ``<Service>Exception`` catch-all only.
S3_SDK_TRANSIENT_ERRORS: tuple[str, ...] = ("S3.S3Exception",)
BATCH_MAP_LABEL = "Images"
LOW_CONFIDENCE = LOW_CONFIDENCE_ERROR
#: The error a batch fails with when more images failed than it tolerates: the Distributed
#: Map's own name for it, whether the Map Run stopped (children failed as a whole) or the
#: summary found too many failed images inside successful children.
TOLERANCE_EXCEEDED = "States.ExceedToleratedFailureThreshold"
