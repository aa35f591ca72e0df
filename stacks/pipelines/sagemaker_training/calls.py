"""How the workflow calls SageMaker: the timeout of an API call, and what its errors are called.

SageMaker's model declares few of its errors, so the names a Retry or a Catch must match are not
the ones its API reference lists; both the definition and the endpoint lookup depend on them.
"""

from __future__ import annotations

from aws_cdk import Duration

SDK_TIMEOUT = Duration.seconds(60)
#: What SageMaker's throttling and service errors are called in a Retry. botocore models no
#: throttling or internal-error shape for SageMaker, so they arrive unmodelled: the optimized
#: integrations (createModel, createTrainingJob.sync, ...) raise them as
#: ``SageMaker.AmazonSageMakerException``, the aws-sdk ones as ``SageMaker.SageMakerException``
#: (Step Functions' ``<Service>.<Service>Exception`` for unmodelled errors). A Retry on
#: ``SageMaker.ThrottlingException`` would never match; these retry a few permanent errors too,
#: which costs seconds, not the run.
SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS: tuple[str, ...] = ("SageMaker.AmazonSageMakerException",)
SAGEMAKER_SDK_TRANSIENT_ERRORS: tuple[str, ...] = ("SageMaker.SageMakerException",)
#: How an aws-sdk task names an error SageMaker's model does not declare (ValidationException).
UNMODELLED_SAGEMAKER_ERROR = "SageMaker.SageMakerException"
