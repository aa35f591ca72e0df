"""What moto 5.2.5's Step Functions interpreter lacks, added for the local runner (harness.py).

Each piece follows AWS's documented behaviour and is switched on only while
:class:`~tests.workflows.harness.LocalWorkflow` runs an execution; one module per concern:

- :mod:`.optimized_integrations`: the optimized integrations moto only forwards
  (``arn:aws:states:::sagemaker:*``, with ``.sync``) and the optimized ``states:startExecution``;
- :mod:`.handler_calls`: the AWS calls Lambda handlers make, answered by the scripts;
- :mod:`.distributed_map`: the Distributed Map's S3 ItemReader, ItemBatcher, tolerated failures
  and ResultWriter files;
- :mod:`.definitions`: where moto's ASL grammar is narrower than AWS's (the definition handed to
  moto, and a Fail state re-raising a ``States.*`` error);
- :mod:`.execution_history`: GetExecutionHistory's paging and order (for the tests that read a
  history through the API, not for the interpreter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.workflows.moto_extensions.definitions import reraised_error_patch
from tests.workflows.moto_extensions.distributed_map import distributed_map_patches
from tests.workflows.moto_extensions.handler_calls import handler_call_patch
from tests.workflows.moto_extensions.optimized_integrations import (
    optimized_integration_patches,
    start_execution_patch,
)

if TYPE_CHECKING:
    from tests.workflows.harness import LocalWorkflow


def extension_patches(
    harness: LocalWorkflow,
    client_for: Callable[..., Any],
    error_name: Callable[[str], str],
) -> list[Any]:
    """Every patch of this package, for the harness to enter while an execution runs.

    ``client_for`` makes a boto3 client whose calls go through the harness's scripting hook;
    ``error_name`` spells a service the way Step Functions does in error names.
    """
    return [
        *optimized_integration_patches(client_for, error_name),
        start_execution_patch(),
        handler_call_patch(harness),
        *distributed_map_patches(),
        reraised_error_patch(),
    ]
