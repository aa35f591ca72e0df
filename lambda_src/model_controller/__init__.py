"""Starts and stops the Rekognition model and gates the inference queue's event source."""
