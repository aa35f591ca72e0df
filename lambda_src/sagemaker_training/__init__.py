"""Functions of the SageMaker training workflow."""
