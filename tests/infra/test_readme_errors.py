"""The README's error tables name every error a run can end with.

Operators look an error up in the README (the runbooks send them there): every exception the
workflows' functions define, and every error a workflow definition decides itself, must be a
row of its pipeline's table.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path
from typing import Any

from tests.infra.conftest import template_of

README = Path(__file__).resolve().parents[2] / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def table_errors(text: str) -> set[str]:
    """Backticked names in the first column of the section's tables."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            first_column = line.split("|")[1]
            names |= set(re.findall(r"`([^`]+)`", first_column))
    return names


def exceptions_defined_in(*module_names: str) -> set[str]:
    found: set[str] = set()
    for name in module_names:
        module = importlib.import_module(name)
        found |= {
            cls.__name__
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Exception) and cls.__module__ == module.__name__
        }
    return found


def decided_errors(definition: dict[str, Any]) -> set[str]:
    """Error names the definition sets itself: Fail states and TaskGuard.fail's records."""
    names: set[str] = set()

    def visit(states: dict[str, Any]) -> None:
        for state in states.values():
            error = state.get("Error") or (state.get("Parameters") or {}).get("Error")
            if isinstance(error, str):
                names.add(error)
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                visit(processor["States"])

    visit(definition["States"])
    return names


def definition_of(templates: Any, env: str, concern: str) -> dict[str, Any]:
    (machine,) = (
        template_of(templates, env, concern)
        .find_resources("AWS::StepFunctions::StateMachine")
        .values()
    )
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "<ref>" for p in parts))


def test_every_rekognition_training_error_is_in_its_table(templates) -> None:
    text = section("Rekognition Custom Labels training")
    documented = table_errors(text)
    raised = exceptions_defined_in(
        "rekognition_training.job",
        "rekognition_training.gate",
        "rekognition_training.evaluation_sources",
        "shared.evaluation.manifest",
    )
    decided = decided_errors(definition_of(templates, "dev", "RekognitionTraining"))

    assert {"InvalidTrainingInput", "ManifestError", "EvaluationMissing"} <= raised
    assert raised - documented == set()
    assert decided - documented == set()
    # The trigger is not a run: its error is described with the triggers.
    assert exceptions_defined_in("rekognition_training.trigger") == {"UnexpectedEvent"}
    assert "`UnexpectedEvent`" in text


def test_every_sagemaker_inference_error_is_in_its_table() -> None:
    documented = table_errors(section("SageMaker image classification"))
    raised = exceptions_defined_in("sagemaker_inference.model")

    assert {"EndpointRequestRejectedError", "MalformedEndpointResponseError"} <= raised
    assert raised - documented == set()


def test_every_relabel_error_is_in_its_table(templates) -> None:
    documented = table_errors(section("Human review: the relabel loop"))
    raised = exceptions_defined_in(
        "relabel.request",
        "relabel.collect",
        "relabel.merge",
        "relabel.ground_truth",
        "shared.evaluation.manifest",
    )
    decided = decided_errors(definition_of(templates, "dev", "Relabel"))

    assert {"WorkteamMissingError", "NothingLabeledError"} <= raised
    assert {"LabelingJobFailed", "LabelingJobStopped", "LabelingJobExpired"} <= decided
    assert raised - documented == set()
    assert decided - documented == set()
