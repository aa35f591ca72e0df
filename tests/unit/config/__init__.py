"""Tests for ``stacks/config/``, one module per configuration section."""
