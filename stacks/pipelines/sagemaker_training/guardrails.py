"""The alarms an endpoint update watches: if one fires while traffic shifts, SageMaker rolls back.

Named (``<prefix>-<env>-sagemaker-training-rollback-<what>``, the app's alarm scheme) because
UpdateEndpoint's
``AutoRollbackConfiguration`` takes alarm names, and built here, in the stack that deploys the
endpoint, so the deploy workflow needs no reference to the monitoring stack. They watch the
endpoint's 5XX errors, its model latency and the share of low-confidence answers (a new model
that is unsure of everything is a regression as much as one that fails).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from contracts.metrics import SAGEMAKER_INVOCATION_5XX_ERRORS, SAGEMAKER_MODEL_LATENCY
from stacks.building_blocks.alarms import AlarmScope, alarm
from stacks.config import EnvironmentConfig
from stacks.runbooks import Runbook

#: p99 ModelLatency (microseconds, as SageMaker publishes it) that rolls an update back.
MODEL_LATENCY_P99_MICROSECONDS = 2_000_000
#: Low-confidence share of the answers that rolls an update back (once enough were seen).
ROLLBACK_LOW_CONFIDENCE_RATIO = 0.5
ROLLBACK_MIN_IMAGES = 10
_ONE_MINUTE = Duration.minutes(1)


#: The "what" of each guardrail alarm's name.
ROLLBACK_WHATS = ("rollback-5xx", "rollback-model-latency", "rollback-low-confidence")


def rollback_scope(config: EnvironmentConfig) -> AlarmScope:
    return AlarmScope(prefix=config.resource_name_prefix, pipeline="sagemaker-training")


def rollback_alarm_names(config: EnvironmentConfig) -> tuple[str, str, str]:
    scope = rollback_scope(config)
    errors, latency, confidence = (scope.name(what) for what in ROLLBACK_WHATS)
    return errors, latency, confidence


class RollbackAlarms(Construct):
    """The three guardrail alarms, notified like every alarm (through the notifier)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        endpoint_metric: Callable[[str, str], cloudwatch.Metric],
        low_confidence: Mapping[str, cloudwatch.IMetric],
        classified: Mapping[str, cloudwatch.IMetric],
    ) -> None:
        super().__init__(scope, construct_id)
        alarm_scope = rollback_scope(config)
        errors_name, latency_name, confidence_name = ROLLBACK_WHATS
        description = (
            "Deployment guardrail of endpoint updates: while it is in ALARM during an update, "
            "SageMaker rolls the endpoint back to its previous configuration and the deploy "
            "workflow reports the rollback with SageMaker's FailureReason. "
        )
        low_sum = " + ".join(f"FILL({name}, 0)" for name in low_confidence)
        total_sum = " + ".join(f"FILL({name}, 0)" for name in classified)
        self.alarms = [
            self._alarm(
                "Errors",
                alarm_scope,
                errors_name,
                endpoint_metric(SAGEMAKER_INVOCATION_5XX_ERRORS, "Sum").with_(period=_ONE_MINUTE),
                1,
                description + "It counts the endpoint's 5XX answers (1 or more in a minute).",
            ),
            self._alarm(
                "ModelLatency",
                alarm_scope,
                latency_name,
                endpoint_metric(SAGEMAKER_MODEL_LATENCY, "p99").with_(period=_ONE_MINUTE),
                MODEL_LATENCY_P99_MICROSECONDS,
                description
                + f"It watches p99 model latency (above {MODEL_LATENCY_P99_MICROSECONDS // 1000}"
                " ms in a minute).",
            ),
            self._alarm(
                "LowConfidence",
                alarm_scope,
                confidence_name,
                cloudwatch.MathExpression(
                    expression=(
                        f"IF(({total_sum}) >= {ROLLBACK_MIN_IMAGES}, "
                        f"({low_sum}) / ({total_sum}), 0)"
                    ),
                    using_metrics={**low_confidence, **classified},
                    period=Duration.minutes(5),
                    label="Low-confidence share during a deployment",
                ),
                ROLLBACK_LOW_CONFIDENCE_RATIO,
                description + f"It watches the low-confidence share of the answers (above "
                f"{ROLLBACK_LOW_CONFIDENCE_RATIO:.0%} of at least {ROLLBACK_MIN_IMAGES}).",
            ),
        ]

    def _alarm(
        self,
        construct_id: str,
        scope: AlarmScope,
        what: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
    ) -> cloudwatch.Alarm:
        return alarm(
            self,
            construct_id,
            alarms=scope,
            what=what,
            metric=metric,
            threshold=threshold,
            description=description,
            runbook=Runbook.ENDPOINT_ROLLBACK,
        )
