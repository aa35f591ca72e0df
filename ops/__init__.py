"""Operator command line: ``python -m ops --help``."""
