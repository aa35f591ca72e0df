"""One parser per section of an environment's configuration (``rekognition``, ``sagemaker``, ...).

Each takes a :class:`~stacks.config.reading._Reader` positioned on its section, returns the
section's frozen dataclass, and rejects unknown keys; the rules within one section (a batch that
fits Lambda's timeout, a schedule with its manifest) are checked here, the rules across sections
and environments in ``stacks.config.rules``.
"""
