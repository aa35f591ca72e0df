"""An SQS work queue with its dead-letter queue and the alarm that says something was lost."""

from __future__ import annotations

import jsii
from aws_cdk import Acknowledgment, Duration, Names, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from contracts.limits import (
    SQS_BATCH_WITHOUT_WINDOW,
    SQS_MAX_BATCH_SIZE,
    SQS_MAX_BATCHING_WINDOW_SECONDS,
    SQS_MAX_CONCURRENCY_RANGE,
    SQS_MAX_RECEIVE_COUNT,
    SQS_MAX_RETENTION_DAYS,
)
from stacks.building_blocks.alarms import AlarmScope, alarm, kebab
from stacks.runbooks import Runbook

#: AWS's advice for Lambda consumers: visibility timeout of at least six times the function timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
MAX_RECEIVE_COUNT_LIMIT = SQS_MAX_RECEIVE_COUNT
_MAX_VISIBILITY_SECONDS = 12 * 3600
#: Longest SQS allows: a DLQ is where an operator looks after the fact.
DEAD_LETTER_RETENTION = Duration.days(SQS_MAX_RETENTION_DAYS)


class DeadLetterQueue(Construct):
    """An encrypted dead-letter queue and the alarm that fires on its first message.

    Used by :class:`WorkQueue` and by asynchronously invoked functions: anything that lands here was
    given up on, so an operator hears about it at once.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        alarms: AlarmScope,
        what: str,
        source_description: str,
    ) -> None:
        """``what`` names the alarm: ``<prefix>-<env>-<pipeline>-<what>``."""
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        self.alarm = alarm(
            self,
            "NotEmptyAlarm",
            alarms=alarms,
            what=what,
            description=(
                f"{source_description} gave up on a message and moved it to this dead-letter "
                "queue. Read it with the console's 'poll for messages', fix the cause (see the "
                "consumer's logs), then redrive the queue."
            ),
            runbook=Runbook.DEAD_LETTER,
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=1,
        )
        reason = "This queue is itself a dead-letter queue; its messages are kept 14 days."
        Validations.of(self.queue).acknowledge(
            Acknowledgment(id="AwsSolutions-SQS3", reason=reason),
            Acknowledgment(id="Serverless-SQSRedrivePolicy", reason=reason),
        )


class WorkQueue(Construct):
    """A KMS-encrypted, TLS-only queue whose poison messages land in an alarmed DLQ.

    The visibility timeout is derived from the consumer's timeout (``consumer_timeout`` x 6), so a
    message is never handed to a second consumer while the first is still working on it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        consumer_timeout: Duration,
        alarms: AlarmScope,
        max_receive_count: int = 3,
        retention: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= max_receive_count <= MAX_RECEIVE_COUNT_LIMIT:
            raise ValueError(
                f"WorkQueue {construct_id}: max_receive_count must be 1..{MAX_RECEIVE_COUNT_LIMIT}"
            )
        visibility_seconds = int(consumer_timeout.to_seconds()) * VISIBILITY_TIMEOUT_FACTOR
        if not 0 < visibility_seconds <= _MAX_VISIBILITY_SECONDS:
            raise ValueError(
                f"WorkQueue {construct_id}: consumer_timeout x {VISIBILITY_TIMEOUT_FACTOR} must be "
                "between 1 second and SQS's 12-hour visibility limit"
            )
        retention = retention or Duration.days(4)
        if retention.to_seconds() >= DEAD_LETTER_RETENTION.to_seconds():
            # SQS counts a moved message's age from its first enqueue: with equal retention a
            # message moved on its last day would expire from the DLQ before anyone looked.
            raise ValueError(
                f"WorkQueue {construct_id}: retention must be shorter than the dead-letter "
                f"queue's {DEAD_LETTER_RETENTION.to_days()} days"
            )
        self.consumer_timeout = consumer_timeout
        self.max_receive_count = max_receive_count
        self.dead_letter = DeadLetterQueue(
            self,
            "DeadLetter",
            encryption_key=encryption_key,
            alarms=alarms,
            what=f"{kebab(construct_id)}-dead-letter",
            source_description=f"Work queue {construct_id}, after {max_receive_count} receives,",
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            data_key_reuse=Duration.hours(1),
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(visibility_seconds),
            retention_period=retention,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter.queue, max_receive_count=max_receive_count
            ),
        )

    def add_consumer(
        self,
        function: lambda_.Function,
        *,
        batch_size: int,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        enabled: bool = True,
    ) -> lambda_.EventSourceMapping:
        """Let ``function`` consume this queue through a Lambda event source mapping.

        Always with ``ReportBatchItemFailures``: the function returns the failed message ids and
        only those come back, so one bad message never makes a whole batch retry. The function's
        timeout must be the ``consumer_timeout`` this queue's visibility timeout was sized for (or
        less). ``enabled=False`` creates the mapping switched off, for consumers that something
        else switches on (the mapping then reads nothing until it is enabled).
        """
        name = f"WorkQueue {self.node.id}"
        timeout = function.timeout
        if timeout is not None and timeout.to_seconds() > self.consumer_timeout.to_seconds():
            raise ValueError(
                f"{name}: the consumer's timeout ({timeout.to_seconds()} s) exceeds the "
                f"consumer_timeout the visibility timeout was sized for "
                f"({self.consumer_timeout.to_seconds()} s)"
            )
        if not 1 <= batch_size <= SQS_MAX_BATCH_SIZE:
            raise ValueError(f"{name}: batch_size must be 1..{SQS_MAX_BATCH_SIZE}")
        window = 0 if max_batching_window is None else max_batching_window.to_seconds()
        if window > SQS_MAX_BATCHING_WINDOW_SECONDS:
            raise ValueError(f"{name}: max_batching_window must be at most 300 seconds")
        if batch_size > SQS_BATCH_WITHOUT_WINDOW and window < 1:
            raise ValueError(
                f"{name}: a batch_size above {SQS_BATCH_WITHOUT_WINDOW} needs a "
                "max_batching_window of at least 1 second"
            )
        low, high = SQS_MAX_CONCURRENCY_RANGE
        if max_concurrency is not None and not low <= max_concurrency <= high:
            raise ValueError(f"{name}: max_concurrency must be {low}..{high}")
        existing = [c for c in self.node.children if isinstance(c, lambda_.EventSourceMapping)]
        mapping = lambda_.EventSourceMapping(
            self,
            f"Consumer{len(existing) + 1 if existing else ''}",
            target=function,
            event_source_arn=self.queue.queue_arn,
            batch_size=batch_size,
            max_batching_window=max_batching_window if window else None,
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
            enabled=enabled,
        )
        self.queue.grant_consume_messages(function)
        Validations.of(mapping).acknowledge(
            Acknowledgment(
                id="Serverless-LambdaEventSourceMappingDestination",
                reason="SQS event sources support no on-failure destination (only Kinesis, "
                "DynamoDB and Kafka do, per AWS::Lambda::EventSourceMapping OnFailure); failed "
                "messages return to this queue and its redrive policy moves them to the "
                "alarmed dead-letter queue after max_receive_count receives.",
            )
        )
        return mapping


@jsii.implements(events.IRuleTarget)
class RuleQueueTarget:
    """An EventBridge rule's SQS target whose queue policies admit that rule alone.

    CDK's ``targets.SqsQueue`` (with ``@aws-cdk/aws-events:eventsTargetQueueSameAccount``) lets
    any rule of the account send (``aws:SourceAccount``): here the work queue and the
    undelivered-events queue each allow ``events.amazonaws.com`` only with ``aws:SourceArn`` =
    this rule's ARN (confused-deputy prevention, EventBridge User Guide "Amazon SQS
    permissions"). The key policy already lets EventBridge encrypt for this account.
    """

    def __init__(
        self,
        queue: sqs.IQueue,
        *,
        dead_letter_queue: sqs.IQueue,
        max_event_age: Duration,
        retry_attempts: int,
    ) -> None:
        self._queue = queue
        self._dead_letter_queue = dead_letter_queue
        self._max_event_age = max_event_age
        self._retry_attempts = retry_attempts

    def bind(self, rule: events.IRule, id: str | None = None) -> events.RuleTargetConfig:
        for queue, sid in ((self._queue, "Target"), (self._dead_letter_queue, "DeadLetters")):
            queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"AllowRule{sid}{Names.node_unique_id(rule.node)}"[:100],
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[queue.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
                )
            )
        return events.RuleTargetConfig(
            arn=self._queue.queue_arn,
            target_resource=self._queue,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=self._dead_letter_queue.queue_arn
            ),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_event_age_in_seconds=int(self._max_event_age.to_seconds()),
                maximum_retry_attempts=self._retry_attempts,
            ),
        )
