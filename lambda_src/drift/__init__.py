"""The drift evaluator: the live window of each pipeline against its running version's baseline.

``figures`` (the pure computation: JS divergence, shifts, labels that moved), ``baseline``
(what a trained version's baseline holds, and how it is built from its sets), ``window`` (the
live counts read back from CloudWatch), ``report`` (the drift report, JSON and HTML, and the
notification), ``handler`` (the scheduled Lambda).
"""
