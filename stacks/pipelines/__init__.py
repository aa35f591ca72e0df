"""Pipelines: one construct (or package) per workflow the app runs, built from
``stacks.building_blocks``: Rekognition training and inference, SageMaker training and
inference."""
