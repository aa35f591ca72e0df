"""Rekognition Custom Labels promotion: which source version to copy, and whether it may be."""
