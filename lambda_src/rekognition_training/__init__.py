"""Rekognition Custom Labels training workflow: input validation, evaluation and gate, triggers."""
