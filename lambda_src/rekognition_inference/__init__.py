"""Rekognition Custom Labels inference: S3 object events -> SQS -> DetectCustomLabels -> records."""
