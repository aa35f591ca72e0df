"""Building blocks: typed constructs with no pipeline knowledge (a function, a queue, a bucket,
a workflow, an alarm, a key grant). Every pipeline and every operations construct is built from
these; nothing here imports from ``stacks.pipelines`` or ``stacks.operations``."""
