"""SageMaker image classification: train -> evaluate -> deploy, as one Step Functions workflow.

States, in order (every Task guarded: timeout, jittered retry of transient errors, catch ->
readable notification -> fail):

1. ``NameJob``: ``<resource_prefix>-<env>-ic-<12 hex>`` names the training job, the model and the
   endpoint configuration (IAM is scoped to that prefix).
2. ``Train`` (``createTrainingJob.sync``): the built-in image-classification algorithm of the
   stack's region, hyperparameters and instance type from the configuration, channels from the
   data bucket, model artifacts to the artifacts bucket, output and volume encrypted with the
   environment key; Step Functions waits until the job ends (a failed or stopped job fails it).
3. ``ReadAccuracy`` -> ``Evaluation``: the job's final ``validation:accuracy`` (a run without it
   fails with ``MissingValidationAccuracy``).
4. ``RecordLineage`` (``metrics.json`` and ``lineage.json`` under ``sagemaker/reports/<job>/``)
   -> ``TagTrainingJob`` -> ``GatePassed?``: accuracy >= ``training.min_validation_accuracy``.
   Rejected: ``NotifyRejected`` -> ``ModelRejected`` (a successful run whose outcome is
   ``REJECTED``). Passed: ``RegisterModel`` in the environment's model package group
   (``registry``); with ``sagemaker.training.deploy = on_approval`` the run ends ``Registered``
   and approving the package starts the deploy workflow (``approval``), which deploys it
   through step 5; with ``direct`` the package is registered as Approved and step 5 follows.
5. ``CreateModel`` -> ``CreateEndpointConfig`` (KMS-encrypted volume, data capture to S3) ->
   ``FindEndpoint`` (DescribeEndpoint of the exact name; "Could not find endpoint" means there
   is none) -> ``CreateEndpoint`` or ``UpdateEndpoint`` (an endpoint that is not InService is
   left alone: ``EndpointNotUpdatable``) -> a bounded poll of ``DescribeEndpoint`` until it is
   InService with the new configuration -> ``NotifyDeployed`` -> ``Deployed``. Each status is
   classified once (:data:`ENDPOINT_STATUSES`): a failed status fails at once with its error
   name, and InService with the *old* configuration (or a new ``FailureReason``) is a rolled-back
   update (``EndpointUpdateRolledBack``); the cause carries SageMaker's ``FailureReason``.

Modules: ``construct`` (the :class:`SageMakerTraining` construct: algorithm image, roles, model
package group, lineage function, workflows, the approval rule, endpoint metrics), ``definition``
(steps 1 to 4), ``registry`` (lineage and registration), ``deployment`` (step 5, shared with the
deploy workflow), ``approval`` (the deploy workflow and its event pattern), ``endpoint`` (the
endpoint status table, the lookup and the deployment wait of step 5), ``permissions`` (the two
SageMaker roles, the scoped prefixes and log groups, the cdk-nag acknowledgements), ``calls``
(the API call timeout and the names SageMaker's errors arrive under).
"""

from __future__ import annotations

from stacks.pipelines.sagemaker_training.calls import (
    SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS,
    SAGEMAKER_SDK_TRANSIENT_ERRORS,
    SDK_TIMEOUT,
    UNMODELLED_SAGEMAKER_ERROR,
)
from stacks.pipelines.sagemaker_training.construct import (
    ALGORITHM_REPOSITORY,
    IMAGE_CLASSIFICATION_REGISTRIES,
    SageMakerTraining,
)
from stacks.pipelines.sagemaker_training.deployment import VALIDATION_METRIC
from stacks.pipelines.sagemaker_training.endpoint import (
    ENDPOINT_IN_SERVICE,
    ENDPOINT_LOOKUP_ATTEMPTS,
    ENDPOINT_LOOKUP_INTERVAL,
    ENDPOINT_MAX_POLLS,
    ENDPOINT_NOT_FOUND_MESSAGE,
    ENDPOINT_POLL_INTERVAL,
    ENDPOINT_ROLLED_BACK,
    ENDPOINT_STATUSES,
    VARIANT_NAME,
    EndpointPhase,
    EndpointStatusMeaning,
)
from stacks.pipelines.sagemaker_training.permissions import DATA_CAPTURE_PREFIX, MODELS_PREFIX

__all__ = [
    "ALGORITHM_REPOSITORY",
    "DATA_CAPTURE_PREFIX",
    "ENDPOINT_IN_SERVICE",
    "ENDPOINT_LOOKUP_ATTEMPTS",
    "ENDPOINT_LOOKUP_INTERVAL",
    "ENDPOINT_MAX_POLLS",
    "ENDPOINT_NOT_FOUND_MESSAGE",
    "ENDPOINT_POLL_INTERVAL",
    "ENDPOINT_ROLLED_BACK",
    "ENDPOINT_STATUSES",
    "IMAGE_CLASSIFICATION_REGISTRIES",
    "MODELS_PREFIX",
    "SAGEMAKER_OPTIMIZED_TRANSIENT_ERRORS",
    "SAGEMAKER_SDK_TRANSIENT_ERRORS",
    "SDK_TIMEOUT",
    "UNMODELLED_SAGEMAKER_ERROR",
    "VALIDATION_METRIC",
    "VARIANT_NAME",
    "EndpointPhase",
    "EndpointStatusMeaning",
    "SageMakerTraining",
]
