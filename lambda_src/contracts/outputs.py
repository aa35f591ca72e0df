"""The stacks' outputs ``ops`` reads: each output's key, written once.

An operator names an environment; ``ops`` finds its buckets, queues, functions and state
machines in the outputs of the environment's stacks (``ops.common.stack_outputs``). The stacks
create the outputs under these keys (they are also the outputs' logical IDs).
"""

from __future__ import annotations

from typing import Final

# -- Storage ---------------------------------------------------------------------------------
DATA_BUCKET_NAME: Final = "DataBucketName"
ARTIFACTS_BUCKET_NAME: Final = "ArtifactsBucketName"
ENCRYPTION_KEY_ARN: Final = "EncryptionKeyArn"

# -- Alerting --------------------------------------------------------------------------------
ALERT_TOPIC_ARN: Final = "AlertTopicArn"

# -- RekognitionTraining and SageMaker -------------------------------------------------------
TRAINING_STATE_MACHINE_ARN: Final = "TrainingStateMachineArn"

# -- RekognitionInference --------------------------------------------------------------------
WORK_QUEUE_URL: Final = "WorkQueueUrl"
DEAD_LETTER_QUEUE_URL: Final = "DeadLetterQueueUrl"
EVENT_SOURCE_MAPPING_ID: Final = "EventSourceMappingId"
CONSUMER_FUNCTION_NAME: Final = "ConsumerFunctionName"
CONTROLLER_FUNCTION_NAME: Final = "ControllerFunctionName"

# -- SageMaker -------------------------------------------------------------------------------
CLASSIFY_IMAGE_STATE_MACHINE_ARN: Final = "ClassifyImageStateMachineArn"
CLASSIFY_IMAGE_SYNC_STATE_MACHINE_ARN: Final = "ClassifyImageSyncStateMachineArn"
CLASSIFY_BATCH_STATE_MACHINE_ARN: Final = "ClassifyBatchStateMachineArn"
ENDPOINT_NAME: Final = "EndpointName"
#: The single-image workflow's Fail state for an inference below the threshold (its error).
LOW_CONFIDENCE_ERROR: Final = "LowConfidence"

# -- Monitoring ------------------------------------------------------------------------------
DASHBOARD_URL: Final = "DashboardUrl"
#: The one-screen overview dashboard (Monitoring stack).
OVERVIEW_URL: Final = "OverviewUrl"
