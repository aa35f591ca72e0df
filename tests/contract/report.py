"""What the contract layer examines, per environment: ``python -m tests.contract.report``.

Prints one table (the figures quoted when the layer changes) and the findings, if any.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    from tests.conftest import load_cdk_json
    from tests.contract import checks
    from tests.contract.conftest import build_contract_environments

    environments = build_contract_environments(load_cdk_json()["context"])
    tallies: dict[str, checks.Tally] = {}
    findings: list[checks.Finding] = []
    for name, env in environments.items():
        tally = tallies.setdefault(name, checks.Tally())
        tally.add("state machines", len(checks.machines(env)))
        tally.add("functions", sum(1 for _ in env.functions()))
        tally.add("policy documents", sum(1 for _ in env.policy_documents()))
        for check in checks.ALL_CHECKS.values():
            findings += check(env, tally)
    rows = sorted({what for tally in tallies.values() for what in tally.counts})
    table = Table(title="Contract layer: what each environment's templates were checked for")
    table.add_column("examined")
    for name in tallies:
        table.add_column(name, justify="right")
    for what in rows:
        table.add_row(what, *(str(t.counts.get(what, 0)) for t in tallies.values()))
    console = Console()
    console.print(table)
    console.print(f"findings: {len(findings)}")
    for finding in findings:
        console.print(str(finding), markup=False)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
