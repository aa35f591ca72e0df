"""Tests for ``python -m ops train start|watch|list`` and ``python -m ops report``, by command.

S3, CloudFormation (stacks holding the outputs the commands read) and Step Functions run in moto.
The state machine is a stand-in with the training workflow's output contract (``outcome``,
``gate``, ``metrics``, ``report_uri``) and error names: moto executes it for real, so ``watch``
and ``list`` read genuine histories and descriptions. moto's GetExecutionHistory ignores page
tokens, so paging, retries and the clock are checked against a botocore ``Stubber`` that replays
a scripted history (and validates every request and response against the service model).
Rekognition Custom Labels is not in moto: ``report --env`` runs against a ``Stubber`` too.
"""
