"""The metrics the functions publish and the stacks alarm on and chart: one spelling each.

Every function publishes in its environment's namespace (:func:`namespace`, passed to it as
``POWERTOOLS_METRICS_NAMESPACE``) with a ``service`` dimension (its ``POWERTOOLS_SERVICE_NAME``,
one of the ``*_SERVICE`` names below). A name spelled differently on the two sides is an alarm
that never fires; both sides import it from here.
"""

from __future__ import annotations

from typing import Final

#: The first part of every environment's namespace (alone: a function run outside an
#: environment, such as a local test, that was given no namespace).
NAMESPACE_ROOT: Final = "ImageClassification"


def namespace(environment: str) -> str:
    """CloudWatch namespace of every metric the environment's functions publish."""
    return f"{NAMESPACE_ROOT}/{environment}"


# -- services (POWERTOOLS_SERVICE_NAME, and the ``service`` dimension) --------------------------
REKOGNITION_INFERENCE_SERVICE: Final = "rekognition-inference"
REKOGNITION_CONTROLLER_SERVICE: Final = "rekognition-controller"
REKOGNITION_TRAINING_SERVICE: Final = "rekognition-training"
REKOGNITION_TRAINING_TRIGGER_SERVICE: Final = "rekognition-training-trigger"
REKOGNITION_EVALUATION_SERVICE: Final = "rekognition-evaluation"
EVALUATION_WIDGET_SERVICE: Final = "evaluation-widget"
EXECUTION_NOTIFIER_SERVICE: Final = "execution-notifier"
RELABEL_SERVICE: Final = "relabel"
REKOGNITION_PROMOTION_SERVICE: Final = "rekognition-promotion"
SAGEMAKER_INFERENCE_SERVICE: Final = "sagemaker-inference"
SAGEMAKER_TRAINING_SERVICE: Final = "sagemaker-training"
#: The drift evaluator (its figures carry ``service=<this>``).
DRIFT_EVALUATOR_SERVICE: Final = "drift-evaluator"

# -- dimensions ---------------------------------------------------------------------------------
SERVICE_DIMENSION: Final = "service"
#: Why an image failed (ImageErrors) or a call will be retried (TransientFailures).
REASON_DIMENSION: Final = "reason"
#: The SageMaker workflow (its state machine name) an image was classified for.
WORKFLOW_DIMENSION: Final = "workflow"
PROJECT_DIMENSION: Final = "Project"
VERSION_DIMENSION: Final = "Version"
#: A label's name as an ASCII-safe value (``contracts.metric_dimensions.label_dimension``).
LABEL_DIMENSION: Final = "Label"
#: The inference pipeline a drift metric is of (``contracts.drift.PIPELINES``).
PIPELINE_DIMENSION: Final = "Pipeline"
#: The model a drift metric is of: the Rekognition version name, or the SageMaker endpoint name.
MODEL_DIMENSION: Final = "Model"
#: A histogram bucket of a drift metric (``contracts.drift.CONFIDENCE_BUCKETS``, ``SIZE_BUCKETS``).
BUCKET_DIMENSION: Final = "Bucket"

# -- the Rekognition inference consumer ----------------------------------------------------------
IMAGES_PROCESSED: Final = "ImagesProcessed"
LOW_CONFIDENCE: Final = "LowConfidence"
DUPLICATES_SKIPPED: Final = "DuplicatesSkipped"
DETECT_LATENCY: Final = "DetectLatency"
IMAGE_ERRORS: Final = "ImageErrors"
TRANSIENT_FAILURES: Final = "TransientFailures"

# -- the model controller ------------------------------------------------------------------------
MODEL_RUNNING: Final = "ModelRunning"
MODEL_NEEDS_ATTENTION: Final = "ModelNeedsAttention"
QUEUE_WAITING: Final = "QueueWaiting"
MODEL_START_REQUESTS: Final = "ModelStartRequests"
MODEL_STOP_REQUESTS: Final = "ModelStopRequests"
CAPACITY_UPDATE_FAILURES: Final = "CapacityUpdateFailures"
INFERENCE_UNITS_SERVING: Final = "InferenceUnitsServing"

# -- Rekognition's own (namespace AWS/Rekognition, by ProjectName and VersionName) ---------------
REKOGNITION_NAMESPACE: Final = "AWS/Rekognition"
REKOGNITION_PROJECT_DIMENSION: Final = "ProjectName"
REKOGNITION_VERSION_DIMENSION: Final = "VersionName"
IN_SERVICE_INFERENCE_UNITS: Final = "InServiceInferenceUnits"
DESIRED_INFERENCE_UNITS: Final = "DesiredInferenceUnits"

# -- training: the trigger and the evaluation -----------------------------------------------------
TRAINING_TRIGGERED: Final = "TrainingTriggered"
TRAINING_TRIGGER_SKIPPED: Final = "TrainingTriggerSkipped"
TEST_IMAGES: Final = "TestImages"
#: Per-label scores: ``Label<Score>`` for precision, recall and f1.
LABEL_SCORES: Final = ("precision", "recall", "f1")


def label_metric(score: str) -> str:
    """``LabelPrecision``, ``LabelRecall`` or ``LabelF1`` (the per-label metric of ``score``)."""
    return f"Label{score.capitalize()}"


# -- SageMaker inference -------------------------------------------------------------------------
IMAGES_VALIDATED: Final = "ImagesValidated"
IMAGES_CLASSIFIED: Final = "ImagesClassified"
ENDPOINT_INVOCATIONS: Final = "EndpointInvocations"
ENDPOINT_LATENCY: Final = "EndpointLatency"

# -- SageMaker's own (namespace AWS/SageMaker, by EndpointName and VariantName) -----------------
SAGEMAKER_NAMESPACE: Final = "AWS/SageMaker"
SAGEMAKER_ENDPOINT_DIMENSION: Final = "EndpointName"
SAGEMAKER_VARIANT_DIMENSION: Final = "VariantName"
#: Requests the variant answered (``Sum``).
SAGEMAKER_INVOCATIONS: Final = "Invocations"
#: Invocations over the variant's instance count (SageMaker publishes no instance count).
SAGEMAKER_INVOCATIONS_PER_INSTANCE: Final = "InvocationsPerInstance"
#: The model's time to answer, in microseconds.
SAGEMAKER_MODEL_LATENCY: Final = "ModelLatency"
SAGEMAKER_INVOCATION_4XX_ERRORS: Final = "Invocation4XXErrors"
SAGEMAKER_INVOCATION_5XX_ERRORS: Final = "Invocation5XXErrors"

# -- drift: the live signals (both inference paths; ``contracts.drift``) -------------------------
#: Images classified (a result, abstained or not).
DRIFT_IMAGES: Final = "DriftImages"
#: Per :data:`LABEL_DIMENSION`: images whose top label it is.
DRIFT_PREDICTIONS: Final = "DriftPredictions"
#: Images without a usable label.
DRIFT_ABSTENTIONS: Final = "DriftAbstentions"
#: The sum of the top confidences of the labelled images.
DRIFT_TOP_CONFIDENCE_SUM: Final = "DriftTopConfidenceSum"
#: Per :data:`BUCKET_DIMENSION`: a histogram of top confidence.
DRIFT_TOP_CONFIDENCE: Final = "DriftTopConfidence"
#: Per :data:`BUCKET_DIMENSION`: a histogram of input byte size.
DRIFT_IMAGE_BYTES: Final = "DriftImageBytes"

# -- drift: the evaluator's figures (``contracts.drift.FIGURES``) ---------------------------------
DRIFT_LABEL_DIVERGENCE: Final = "DriftLabelDivergence"
DRIFT_CONFIDENCE_DROP: Final = "DriftConfidenceDrop"
DRIFT_ABSTENTION_INCREASE: Final = "DriftAbstentionIncrease"
DRIFT_IMAGE_SIZE_DIVERGENCE: Final = "DriftImageSizeDivergence"
#: Images in the window the figures were computed over.
DRIFT_WINDOW_IMAGES: Final = "DriftWindowImages"

# -- the execution notifier ----------------------------------------------------------------------
EXECUTION_NOTIFICATIONS_SENT: Final = "ExecutionNotificationsSent"
EXECUTION_NOTIFICATIONS_SKIPPED: Final = "ExecutionNotificationsSkipped"
ALARM_NOTIFICATIONS_SENT: Final = "AlarmNotificationsSent"
ALARM_NOTIFICATIONS_SKIPPED: Final = "AlarmNotificationsSkipped"
