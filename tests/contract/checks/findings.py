"""What every check returns (a Finding), what it counts (a Tally), how it names a place."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.contract.asl import (
    Machine,
    State,
)
from tests.contract.cfn import Environment


@dataclass(frozen=True)
class Finding:
    check: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.where}: {self.message}"


@dataclass
class Tally:
    """What the checks looked at (for the report and to prove they looked at something)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


def machines(env: Environment) -> list[Machine]:
    return [Machine.build(stack, lid, asl) for stack, lid, asl in env.state_machines()]


def place(machine: Machine, state: State) -> str:
    scope = f"{state.scope}/" if state.scope else ""
    return f"{machine.label} state {scope}{state.name}"
