"""Operator command line: ``ops --help`` (or ``python -m ops --help``)."""
