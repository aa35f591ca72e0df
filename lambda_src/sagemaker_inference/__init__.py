"""SageMaker image classification: the validate, classify and batch-summary functions."""
