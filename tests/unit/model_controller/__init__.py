"""The model controller: its pure decision (exhaustively) and its handler against moto and Stubber.

The decision table is checked against an independent statement of the rules for every model
status x work/no work x idle/not idle x mode; the unit choice against worked examples (numbers,
not the formula); the capacity steps against the invariant they promise. The handler tests check
that decisions turn into the right AWS calls (start with the chosen units, stop, event source
gating, consumer concurrency and pace, metrics), that a FAILED model is never restarted, and -
with botocore's Stubber, whose answers botocore checks against the service models - that a
throttled or failed capacity update never fails a run and is made on the next one.
"""
