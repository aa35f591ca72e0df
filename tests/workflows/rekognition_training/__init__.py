"""The synthesized training workflow, executed locally with scripted Rekognition answers.

Rekognition Custom Labels is not in moto: each test scripts the documented responses of the
calls the workflow makes (the runner fails on any unscripted call). S3, SSM, SNS and the two
Lambdas (ValidateInput, Evaluate: the real handlers) run in moto.
"""
