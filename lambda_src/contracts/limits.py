"""The AWS limits the code relies on, in one place (the stacks, the functions and ops import them).

Each value is AWS's documented limit, not a choice of ours; the configuration validates against
them (``stacks/config/limits.py`` adds the app's own bounds).
"""

from __future__ import annotations

from typing import Final

# -- Lambda's SQS event source ----------------------------------------------------------------
#: ScalingConfig.MaximumConcurrency accepts 2 to 1000.
SQS_MAX_CONCURRENCY_RANGE: Final = (2, 1000)
#: BatchSize: at most 10,000 for a standard queue (above 10, a batching window is required).
SQS_MAX_BATCH_SIZE: Final = 10_000
#: The largest batch a standard queue's event source takes without a batching window.
SQS_BATCH_WITHOUT_WINDOW: Final = 10
#: MaximumBatchingWindowInSeconds: 0 to 300.
SQS_MAX_BATCHING_WINDOW_SECONDS: Final = 300
#: The most receives the foundation allows before a message moves to the dead-letter queue.
SQS_MAX_RECEIVE_COUNT: Final = 5
#: SQS keeps a message at most 14 days.
SQS_MAX_RETENTION_DAYS: Final = 14

# -- S3 -----------------------------------------------------------------------------------------
#: An object key is at most 1,024 bytes (UTF-8).
S3_MAX_KEY_BYTES: Final = 1024

# -- Rekognition Custom Labels -----------------------------------------------------------------
#: DetectCustomLabels reads an S3 object of at most 15 MB.
REKOGNITION_MAX_OBJECT_BYTES: Final = 15 * 1024 * 1024

# -- SageMaker ----------------------------------------------------------------------------------
#: InvokeEndpoint takes a request body of at most 6 MB.
SAGEMAKER_MAX_PAYLOAD_BYTES: Final = 6 * 1024 * 1024

# -- Step Functions ------------------------------------------------------------------------------
#: History events per execution of a Standard workflow.
STATES_HISTORY_QUOTA: Final = 25_000
