"""Reports Step Functions executions that failed, timed out or were aborted to the alert topic."""
