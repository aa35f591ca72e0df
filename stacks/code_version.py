"""The code version a synthesized app records in its lineage: the git commit it was built from.

Read once per process from the checkout the app lives in (``git rev-parse HEAD``, with ``+dirty``
when tracked files differ from it); ``unknown`` outside a git checkout or without git. The value
goes into the environment of the functions that write lineage records
(``shared.lineage.CODE_VERSION_VARIABLE``); the template snapshots normalize it. The marker is
``+dirty`` (semantic versioning's build-metadata separator), not git describe's ``-dirty``:
checkov's CKV_AWS_45 takes a ``<hex>-<word>`` value in a Lambda environment for a secret, which
would fail the security scan of every local synth with uncommitted changes.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from shared.lineage import UNKNOWN_CODE_VERSION

_ROOT = Path(__file__).resolve().parent.parent


@cache
def code_version(root: Path = _ROOT) -> str:
    """The commit of ``root``'s checkout, ``<sha>+dirty`` with local changes, else unknown."""
    try:
        commit = _git(root, "rev-parse", "HEAD").stdout.strip()
        dirty = _git(root, "diff", "--quiet", "HEAD", "--", ".", check=False).returncode != 0
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN_CODE_VERSION
    if not commit:
        return UNKNOWN_CODE_VERSION
    return f"{commit}+dirty" if dirty else commit


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=check,
    )
