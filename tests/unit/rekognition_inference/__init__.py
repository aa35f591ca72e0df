"""The inference consumer, driven through its real Lambda handler with moto S3/SQS/SSM.

DetectCustomLabels answers are scripted with the response shapes and error codes AWS documents,
after the fake has read the object as the service does (so a missing, archived or non-image
object is rejected by "the service" and diagnosed by the consumer). The core property: every
input ends in exactly one of a result, an error record, or the dead-letter queue (after
``maxReceiveCount`` receives) - nothing loops, nothing is lost. Events carry what S3 says about
the object (size, ETag, version id) unless a case says otherwise.
"""
