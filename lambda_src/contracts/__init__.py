"""The contracts the stacks, the functions and the operator commands share, written once.

Standard library only and no CDK import: the functions import it as ``contracts.*`` (it ships in
every function's asset with the rest of ``lambda_src``), the stacks and ``ops`` through
``lambda_src`` on ``sys.path`` (``stacks/__init__.py`` puts it there). What one side writes and
the other grants, reads or alarms on is defined here, so the two cannot drift apart:

- :mod:`contracts.s3_layout`: the artifacts bucket's key layout, per pipeline;
- :mod:`contracts.metrics`: the metric namespace, names, dimensions and service names;
- :mod:`contracts.drift`: the drift signals' pipelines, buckets and figures, and its files;
- :mod:`contracts.quality_gate`: the metrics a quality gate may compare;
- :mod:`contracts.arns`: ARN patterns the code parses or validates;
- :mod:`contracts.naming`: stack and resource names of an environment;
- :mod:`contracts.outputs`: the keys of the stacks' outputs ``ops`` reads;
- :mod:`contracts.limits`: the AWS limits the code relies on;
- :mod:`contracts.consumer_capacity`: the inference consumers' capacity, derived and published.
"""
