"""Human review of low-confidence images feeding the next training (SageMaker Ground Truth).

Modules: ``construct`` (the :class:`Relabel` construct: functions, grants, workflow, triggers,
the artifacts prefixes it owns), ``definition`` (the states), ``permissions`` (the Ground Truth
execution role).
"""

from __future__ import annotations

from stacks.pipelines.relabel.construct import (
    DONE_PREFIX,
    JOBS_PREFIX,
    OUTPUT_PREFIX,
    RELABEL_PREFIX,
    Relabel,
    covered_by_trigger,
)

__all__ = [
    "DONE_PREFIX",
    "JOBS_PREFIX",
    "OUTPUT_PREFIX",
    "RELABEL_PREFIX",
    "Relabel",
    "covered_by_trigger",
]
