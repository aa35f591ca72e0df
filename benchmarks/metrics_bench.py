"""Benchmark ``shared.evaluation`` against the notebook's scikit-learn approach, side by side.

Run from the repository root::

    .venv/bin/python benchmarks/metrics_bench.py [--repeats N]

It generates three evaluation manifest snapshots in a temporary directory (single-label 10k and
100k images with 10 labels, multi-label 100k), measures both approaches in fresh subprocesses,
prints the tables and writes ``benchmarks/results/metrics_bench.json``. ``README.md`` next to
this file explains every figure. The notebook side calls scikit-learn the way a data scientist
does, with the report's conventions: ``labels=<the real labels>``, ``zero_division=0``, the
abstention as its own value for accuracy and MCC, indicator matrices over the real labels. The
same script is its own subprocess worker (``--worker``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambda_src")]

from tests.evaluation_data import DETAILS, ManifestSpec, write_manifest  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "metrics_bench.json"
NO_LABEL = "(no label)"  # the notebook's own spelling; same as shared.evaluation.NO_LABEL
DATASETS = {
    "single-label 10k": ManifestSpec(n_images=10_000, seed=101),
    "single-label 100k": ManifestSpec(n_images=100_000, seed=102),
    "multi-label 100k": ManifestSpec(n_images=100_000, seed=103, multi_label=True),
}
TARGETS = {
    "single-label 100k parse / JSON floor (x)": ("<=", 1.5),
    "multi-label 100k parse / JSON floor (x)": ("<=", 1.5),
    # The same two ratios in instructions executed (callgrind): what the load does not move.
    "single-label 100k parse / JSON floor, instructions (x)": ("<=", 1.5),
    "multi-label 100k parse / JSON floor, instructions (x)": ("<=", 1.5),
    "peak memory 100k (MB)": ("<=", 200.0),
    "compute speed-up vs scikit-learn (x)": (">=", 20.0),
    "import shared.evaluation (ms)": ("<=", 150.0),
}


# --------------------------------------------------------------------------------------------
# Worker side: each measurement runs in a fresh interpreter, imports done before the clock.


def headline(**figures: float) -> dict[str, float]:
    """A few figures both sides compute, to check they agree (as plain floats)."""
    return {name: float(value) for name, value in figures.items()}


def ours(path: str, multi: bool) -> dict[str, float]:
    from shared.evaluation import compute_metrics, parse_manifest

    metrics = compute_metrics(parse_manifest(path))
    return headline(
        accuracy=metrics["accuracy"],
        balanced_accuracy=metrics["balanced_accuracy"],
        precision_macro=metrics["precision"]["macro"],
        precision_micro=metrics["precision"]["micro"],
        f1_macro=metrics["f1"]["macro"],
        f1_micro=metrics["f1"]["micro"],
        mcc=metrics["matthews_corrcoef"],
        hamming=metrics["hamming_loss"],
    )


def parse_only(path: str, multi: bool) -> dict[str, float]:
    """Only ``parse_manifest``: what the JSON floor is compared with."""
    from shared.evaluation import parse_manifest

    parse_manifest(path)
    return {}


def notebook_parse(path: str, multi: bool) -> tuple[list[Any], list[Any]]:
    """The notebook's loading: every line with json, then y_true / y_pred lists.

    An image without ground truth or prediction is ``NO_LABEL`` (single-label) or an empty
    list (multi-label).
    """
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    y_true: list[Any] = []
    y_pred: list[Any] = []
    for row in rows:
        truth, scored = [], []
        for key, metadata in row.items():
            if not key.endswith("-metadata"):
                continue
            details = metadata.get(DETAILS)
            if details is None:
                truth.append(metadata["class-name"])
            elif details["is-true-positive"] or details["is-false-positive"]:
                scored.append((metadata["confidence"], metadata["class-name"]))
        scored.sort(reverse=True)
        if multi:
            y_true.append(truth)
            y_pred.append([name for _, name in scored])
        else:
            y_true.append(truth[0] if truth else NO_LABEL)
            y_pred.append(scored[0][1] if scored else NO_LABEL)
    return y_true, y_pred


def notebook_metrics(y_true: list[Any], y_pred: list[Any], multi: bool) -> dict[str, float]:
    """One scikit-learn call per metric, with the report's conventions (module docstring)."""
    import numpy as np
    from sklearn import metrics as m
    from sklearn.preprocessing import MultiLabelBinarizer

    if multi:
        labels = sorted({name for names in (*y_true, *y_pred) for name in names})
        binarizer = MultiLabelBinarizer(classes=labels)
        truth, pred = binarizer.fit_transform(y_true), binarizer.transform(y_pred)
        averages: tuple[str, ...] = ("micro", "macro", "weighted", "samples")
        m.multilabel_confusion_matrix(truth, pred)
        m.classification_report(truth, pred, target_names=labels, zero_division=0, output_dict=True)
        balanced = float(
            np.mean(
                [m.balanced_accuracy_score(truth[:, j], pred[:, j]) for j in range(truth.shape[1])]
            )
        )
        mcc = m.matthews_corrcoef(truth.ravel(), pred.ravel())
        labels_kw: dict[str, Any] = {}
    else:
        truth, pred = y_true, y_pred
        averages = ("micro", "macro", "weighted")
        labels = sorted((set(y_true) | set(y_pred)) - {NO_LABEL})
        labels_kw = {"labels": labels}
        m.confusion_matrix(truth, pred, labels=[*labels, NO_LABEL])
        m.classification_report(truth, pred, labels=labels, zero_division=0, output_dict=True)
        labelled = [i for i, label in enumerate(y_true) if label != NO_LABEL]
        balanced = m.balanced_accuracy_score(
            [y_true[i] for i in labelled], [y_pred[i] for i in labelled]
        )
        mcc = m.matthews_corrcoef(truth, pred)
    f1, precision = {}, {}
    for average in averages:
        precision[average] = m.precision_score(
            truth, pred, average=average, zero_division=0, **labels_kw
        )
        m.recall_score(truth, pred, average=average, zero_division=0, **labels_kw)
        f1[average] = m.f1_score(truth, pred, average=average, zero_division=0, **labels_kw)
        m.jaccard_score(truth, pred, average=average, zero_division=0, **labels_kw)
    return headline(
        accuracy=m.accuracy_score(truth, pred),
        balanced_accuracy=balanced,
        precision_macro=precision["macro"],
        precision_micro=precision["micro"],
        f1_macro=f1["macro"],
        f1_micro=f1["micro"],
        mcc=mcc,
        hamming=m.hamming_loss(truth, pred),
    )


def notebook(path: str, multi: bool) -> dict[str, float]:
    return notebook_metrics(*notebook_parse(path, multi), multi)


def json_floor(path: str, multi: bool) -> dict[str, float]:
    """Only json.loads on every line: what any standard-library JSON Lines reader pays."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            json.loads(line)
    return {}


def floor_then_parse(path: str, multi: bool, repeats: int) -> dict[str, float]:
    """The JSON floor and ``parse_manifest`` in turns, ``repeats`` times (best of each)."""
    import shared.evaluation  # noqa: F401 - import before the clock

    floor = parse = float("inf")
    for _ in range(repeats):
        floor = min(floor, best_of(1, lambda: json_floor(path, multi)))
        parse = min(parse, best_of(1, lambda: parse_only(path, multi)))
    return {"floor_s": floor, "parse_s": parse}


def compute_only(path: str, multi: bool, repeats: int) -> dict[str, float]:
    """Each side's compute step from its own parsed data (best of ``repeats``)."""
    import sklearn.metrics  # noqa: F401 - import before the clock

    from shared.evaluation import compute_metrics, parse_manifest

    data = parse_manifest(path)
    ours_best = best_of(20, lambda: compute_metrics(data))
    y_true, y_pred = notebook_parse(path, multi)
    sklearn_best = best_of(repeats, lambda: notebook_metrics(y_true, y_pred, multi))
    return {"ours_s": ours_best, "sklearn_s": sklearn_best}


def best_of(repeats: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def idle(path: str, multi: bool) -> dict[str, float]:
    """Nothing: the interpreter and the imports, subtracted from the instruction counts."""
    return {}


WORKERS: dict[str, Callable[[str, bool], dict[str, float]]] = {
    "ours": ours,
    "parse": parse_only,
    "notebook": notebook,
    "floor": json_floor,
    "idle": idle,
}


def worker(kind: str, path: str, multi: bool, trace: bool, repeats: int) -> None:
    if kind == "compute":
        print(json.dumps(compute_only(path, multi, repeats)))
        return
    if kind == "floor_parse":
        print(json.dumps(floor_then_parse(path, multi, repeats)))
        return
    if kind == "notebook":
        import sklearn.metrics
        import sklearn.preprocessing  # noqa: F401
    else:
        import shared.evaluation  # noqa: F401
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    figures = WORKERS[kind](path, multi)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_mb": peak / 2**20,
                "rss_mb": rss_kb / 1024,
                "figures": figures,
            }
        )
    )


# --------------------------------------------------------------------------------------------
# Driver side.


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "lambda_src")])
    return env


def run_worker(
    kind: str, path: Path, multi: bool, *, trace: bool = False, repeats: int = 1
) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--worker",
        kind,
        "--path",
        str(path),
        "--repeats",
        str(repeats),
    ]
    if multi:
        command.append("--multi")
    if trace:
        command.append("--trace")
    done = subprocess.run(command, env=child_env(), capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def best_run(kind: str, path: Path, multi: bool, repeats: int) -> dict[str, Any]:
    runs = [run_worker(kind, path, multi) for _ in range(repeats)]
    return min(runs, key=lambda run: run["seconds"])


def floor_and_parse(path: Path, multi: bool, repeats: int) -> tuple[float, float]:
    """Best JSON floor and best parse, in turns in one process so that load hits both alike."""
    result = run_worker("floor_parse", path, multi, repeats=repeats)
    return result["floor_s"], result["parse_s"]


#: Lines of each 100k snapshot that the instruction counts read (callgrind runs ~50x slower).
INSTRUCTION_SAMPLE_LINES = 10_000


def instruction_ratio(path: Path, multi: bool, folder: Path) -> float | None:
    """Parse over JSON floor in instructions executed (callgrind), on the file's first lines.

    Instruction counts do not depend on what else the machine is doing, so this ratio repeats
    from run to run where the timed one moves with the load of a shared machine. Each side is
    counted in its own worker process; the same worker doing nothing (interpreter start and
    imports) is subtracted from both. None when valgrind is not installed.
    """
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    sample = folder / f"{path.stem}-head.manifest"
    with path.open("rb") as source, sample.open("wb") as head:
        for number, line in enumerate(source):
            if number == INSTRUCTION_SAMPLE_LINES:
                break
            head.write(line)

    def count(kind: str) -> int:
        command = [
            valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, __file__, "--worker", kind, "--path", str(sample),
        ]  # fmt: skip
        if multi:
            command.append("--multi")
        # A fixed hash seed: dictionary layouts, hence the counts, repeat exactly.
        env = {**child_env(), "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise RuntimeError(
                f"callgrind run of the {kind} worker failed (exit {done.returncode}): "
                f"{done.stderr[-500:]}"
            )
        return int(found.group(1))

    base = count("idle")
    return (count("parse") - base) / (count("floor") - base)


def import_times(repeats: int) -> dict[str, float]:
    """Import cost in fresh interpreters, measured two ways (best of ``repeats``)."""

    def importtime(module: str) -> float:
        best = float("inf")
        for _ in range(repeats):
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", f"import {module}"],
                env=child_env(), capture_output=True, text=True, check=True,
            )  # fmt: skip
            pattern = rf"^import time:\s+\d+ \|\s+(\d+) \| {re.escape(module)}$"
            micros = int(re.search(pattern, done.stderr, re.M).group(1))  # type: ignore[union-attr]
            best = min(best, micros / 1000)
        return best

    def wall(code: str) -> float:
        return best_of(
            repeats,
            lambda: subprocess.run([sys.executable, "-c", code], env=child_env(), check=True),
        )

    def handler_importtime() -> dict[str, float]:
        """The Evaluate Lambda's module, as its runtime imports it (X-Ray on), and its parts."""
        parts = {
            "handler_importtime_ms": "rekognition_training.evaluate",
            "handler_boto3_ms": "boto3",
            "handler_xray_sdk_ms": "aws_xray_sdk.core",
            "handler_shared_evaluation_ms": "shared.evaluation",
        }
        best = dict.fromkeys(parts, float("inf"))
        # Lambda's own environment: with LAMBDA_TASK_ROOT set the X-Ray SDK samples locally
        # (Lambda decides), without it its recorder builds two X-Ray clients for centralized
        # sampling, ~130 ms that no Lambda cold start pays.
        env = {
            **child_env(),
            "AWS_DEFAULT_REGION": "eu-west-1",
            "LAMBDA_TASK_ROOT": str(ROOT / "lambda_src"),
            "AWS_LAMBDA_FUNCTION_NAME": "evaluate",
        }
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        for _ in range(repeats):
            done = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", "import rekognition_training.evaluate"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            for name, module in parts.items():
                pattern = rf"^import time:\s+\d+ \|\s+(\d+) \|\s*{re.escape(module)}$"
                found = re.search(pattern, done.stderr, re.M)
                if found:
                    best[name] = min(best[name], int(found.group(1)) / 1000)
        return best

    return {
        "importtime_ms": importtime("shared.evaluation"),
        "wall_minus_bare_ms": (wall("import shared.evaluation") - wall("pass")) * 1000,
        "sklearn_metrics_importtime_ms": importtime("sklearn.metrics"),
        **handler_importtime(),
    }


def agree(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[key] - b[key]) <= 1e-9 for key in a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per timing of ours (best kept)"
    )
    parser.add_argument(
        "--floor-repeats",
        type=int,
        default=7,
        help="turns of JSON floor then parse, for their ratio (best of each kept)",
    )
    parser.add_argument(
        "--notebook-repeats",
        type=int,
        default=1,
        help="runs per timing of the notebook approach (slow; best kept)",
    )
    parser.add_argument(
        "--worker", choices=[*WORKERS, "compute", "floor_parse"], help=argparse.SUPPRESS
    )
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--multi", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.path, args.multi, args.trace, args.repeats)
        return

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as folder:
        for name, spec in DATASETS.items():
            path = Path(folder) / f"{name.replace(' ', '-')}.manifest"
            print(f"generating {name} ...", file=sys.stderr, flush=True)
            write_manifest(path, spec)
            multi = spec.multi_label
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            floor_s, parse_s = floor_and_parse(path, multi, args.floor_repeats)
            counted = (
                instruction_ratio(path, multi, Path(folder)) if spec.n_images == 100_000 else None
            )
            ours_run = best_run("ours", path, multi, args.repeats)
            notebook_run = best_run("notebook", path, multi, args.notebook_repeats)
            rows.append(
                {
                    "dataset": name,
                    "images": spec.n_images,
                    "megabytes": path.stat().st_size / 1e6,
                    "json_floor_s": floor_s,
                    "parse_s": parse_s,
                    "parse_floor_instructions": counted,
                    "ours_s": ours_run["seconds"],
                    "notebook_s": notebook_run["seconds"],
                    "ours_peak_mb": run_worker("ours", path, multi, trace=True)["peak_mb"],
                    "notebook_peak_mb": run_worker("notebook", path, multi, trace=True)["peak_mb"],
                    "ours_rss_mb": ours_run["rss_mb"],
                    "notebook_rss_mb": notebook_run["rss_mb"],
                    "figures_agree": agree(ours_run["figures"], notebook_run["figures"]),
                    "compute": run_worker("compute", path, multi, repeats=args.notebook_repeats),
                }
            )
    imports = import_times(max(args.repeats, 5))
    report(rows, imports, args.repeats, args.notebook_repeats, args.floor_repeats)


def report(
    rows: list[dict[str, Any]],
    imports: dict[str, float],
    repeats: int,
    notebook_repeats: int,
    floor_repeats: int,
) -> None:
    largest = [row for row in rows if row["images"] == 100_000]
    by_name = {row["dataset"]: row for row in rows}
    measured: dict[str, float | None] = {
        "single-label 100k parse / JSON floor (x)": parse_ratio(by_name["single-label 100k"]),
        "multi-label 100k parse / JSON floor (x)": parse_ratio(by_name["multi-label 100k"]),
        "single-label 100k parse / JSON floor, instructions (x)": by_name["single-label 100k"][
            "parse_floor_instructions"
        ],
        "multi-label 100k parse / JSON floor, instructions (x)": by_name["multi-label 100k"][
            "parse_floor_instructions"
        ],
        "peak memory 100k (MB)": max(
            max(row["ours_peak_mb"], row["ours_rss_mb"]) for row in largest
        ),
        "compute speed-up vs scikit-learn (x)": min(
            row["compute"]["sklearn_s"] / row["compute"]["ours_s"] for row in rows
        ),
        "import shared.evaluation (ms)": max(
            imports["importtime_ms"], imports["wall_minus_bare_ms"]
        ),
    }
    targets = [
        {
            "target": name,
            "limit": f"{op} {limit:g}",
            "measured": measured[name],
            "met": met(measured[name], op, limit),
        }
        for name, (op, limit) in TARGETS.items()
    ]
    results = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": cpu_model(),
            "cpus": os.cpu_count(),
            "load_average_1m": os.getloadavg()[0],
        },
        "repeats": {
            "ours": repeats,
            "notebook": notebook_repeats,
            "floor_and_parse": floor_repeats,
        },
        "datasets": rows,
        "imports": imports,
        "targets": targets,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS.with_suffix(".json.tmp")
    partial.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    partial.replace(RESULTS)
    print_tables(results)
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")


def met(measured: float | None, op: str, limit: float) -> bool | None:
    """Whether a figure meets its limit; None when it was not measured."""
    if measured is None:
        return None
    return measured <= limit if op == "<=" else measured >= limit


def parse_ratio(row: dict[str, Any]) -> float:
    """``parse_manifest`` over the JSON floor, both measured in the same run."""
    ratio: float = row["parse_s"] / row["json_floor_s"]
    return ratio


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_tables(results: dict[str, Any]) -> None:
    rows = results["datasets"]
    main_header = [
        "dataset", "MB", "json floor s", "parse s", "parse / floor", "same, instr.", "ours s",
        "notebook s",
        "speed-up", "ours peak MB", "notebook peak MB", "ours RSS MB", "notebook RSS MB",
        "same figures",
    ]  # fmt: skip
    main_rows = [
        [
            row["dataset"],
            f"{row['megabytes']:.0f}",
            f"{row['json_floor_s']:.2f}",
            f"{row['parse_s']:.2f}",
            f"{parse_ratio(row):.2f}x",
            "-"
            if row["parse_floor_instructions"] is None
            else f"{row['parse_floor_instructions']:.2f}x",
            f"{row['ours_s']:.2f}",
            f"{row['notebook_s']:.2f}",
            f"{row['notebook_s'] / row['ours_s']:.1f}x",
            f"{row['ours_peak_mb']:.1f}",
            f"{row['notebook_peak_mb']:.0f}",
            f"{row['ours_rss_mb']:.0f}",
            f"{row['notebook_rss_mb']:.0f}",
            "yes" if row["figures_agree"] else "NO",
        ]
        for row in rows
    ]
    compute_header = ["dataset", "ours ms", "scikit-learn ms", "ratio"]
    compute_rows = [
        [
            row["dataset"],
            f"{row['compute']['ours_s'] * 1000:.2f}",
            f"{row['compute']['sklearn_s'] * 1000:.0f}",
            f"{row['compute']['sklearn_s'] / row['compute']['ours_s']:.0f}x",
        ]
        for row in rows
    ]
    imports = results["imports"]
    import_header = ["import", "ms"]
    import_rows = [
        ["shared.evaluation (-X importtime, cumulative)", f"{imports['importtime_ms']:.1f}"],
        [
            "shared.evaluation (wall, minus bare interpreter)",
            f"{imports['wall_minus_bare_ms']:.1f}",
        ],
        [
            "sklearn.metrics (-X importtime, for comparison)",
            f"{imports['sklearn_metrics_importtime_ms']:.0f}",
        ],
        [
            "rekognition_training.evaluate, the Evaluate Lambda (-X importtime, X-Ray on)",
            f"{imports['handler_importtime_ms']:.1f}",
        ],
        ["  of which boto3", f"{imports['handler_boto3_ms']:.1f}"],
        [
            "  of which aws_xray_sdk.core (Powertools Tracer)",
            f"{imports['handler_xray_sdk_ms']:.1f}",
        ],
        ["  of which shared.evaluation", f"{imports['handler_shared_evaluation_ms']:.1f}"],
    ]
    target_header = ["target", "limit", "measured", "met"]
    target_rows = [
        [
            t["target"],
            t["limit"],
            "not measured (no valgrind)" if t["measured"] is None else f"{t['measured']:.2f}",
            {True: "yes", False: "NO", None: "-"}[t["met"]],
        ]
        for t in results["targets"]
    ]
    machine = results["machine"]
    title = (
        f"{machine['processor']}, {machine['cpus']} CPUs, Python {machine['python']}, "
        f"best of {results['repeats']['ours']} (ours) / {results['repeats']['notebook']} (notebook)"
    )
    tables = [
        (f"Parse + compute, fresh process per run ({title})", main_header, main_rows),
        ("Compute only, from each side's parsed data", compute_header, compute_rows),
        ("Import time, fresh interpreter", import_header, import_rows),
        ("Targets", target_header, target_rows),
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        for caption, header, body in tables:
            widths = [
                max(len(str(cell)) for cell in column) for column in zip(header, *body, strict=True)
            ]
            print(f"\n{caption}")
            for line in [header, *body]:
                print(
                    "  ".join(
                        str(cell).rjust(width) for cell, width in zip(line, widths, strict=True)
                    )
                )
        return
    console = Console(width=200)
    for caption, header, body in tables:
        table = Table(title=caption, title_justify="left")
        for i, column in enumerate(header):
            table.add_column(column, justify="left" if i == 0 else "right")
        for line in body:
            table.add_row(*line)
        console.print(table)


if __name__ == "__main__":
    main()
