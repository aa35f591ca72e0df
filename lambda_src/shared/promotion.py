"""What the promotion workflow and ``ops approve``/``ops reject`` agree on (CDK-free).

The workflow's approval state publishes its task token as a message attribute; ``ops`` finds
that state's TaskScheduled event in the execution history and reads the token from it, and a
rejection is sent as an error the state catches.
"""

from __future__ import annotations

#: The state that waits for a decision.
APPROVAL_STATE = "RequestApproval"
#: The SNS message attribute that carries the task token.
TOKEN_ATTRIBUTE = "TaskToken"
#: The error a rejection sends (SendTaskFailure); its cause is the approver's reason.
REJECTED_ERROR = "PromotionRejected"
