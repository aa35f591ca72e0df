#!/usr/bin/env python3
"""SageMaker batch classification, today's design against the batched one, in one run.

    .venv/bin/python benchmarks/sagemaker_batch.py [--images 400] [--latency-ms 100]
        [--instances 4] [--concurrency-per-instance 8]

A child process serves, on 127.0.0.1 only, the S3 calls the handlers make (HeadObject, ranged
and full GetObject, PutObject of review records) and InvokeEndpoint with a fixed latency; the
endpoint serves at most ``instances x concurrency-per-instance`` requests at once (the others
wait for a slot, as requests queue on a busy instance). It stops by itself after
``--max-seconds``. boto3 reaches it through ``AWS_ENDPOINT_URL``. The real handlers run in this
process, unchanged, with the environment variables the stack gives them:

- **today**: one Express child per image, ``Validate`` then ``Classify`` (two Lambda
  invocations, one InvokeEndpoint), at most 10 children at once (the fixed MaxConcurrency);
- **batched**: one Express child per ``--batch-size`` images (ItemBatcher), one
  ``ClassifyBatchItems`` invocation validating and classifying them with
  ``--invocations-per-batch`` endpoint calls in flight, MaxConcurrency derived from the
  endpoint's capacity as the stack derives it (``capacity // invocations_per_batch``).

What Step Functions and Lambda add around a handler is modelled, not measured (no emulator of
either exists here): ``--invoke-overhead-ms`` per Lambda invocation (the service's invoke path)
and ``--transition-overhead-ms`` per state transition of a child. Counted: Lambda invocations,
the children's state transitions, InvokeEndpoint calls. Dollars per 1,000 images, at the
published us-east-1 prices in PRICES: Distributed Map child executions (one state transition
each in the parent), Express requests and duration, Lambda requests and arm64 duration at each
function's memory, and the endpoint's instance time while the batch runs.

Prints a table and writes ``benchmarks/results/sagemaker_batch.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import multiprocessing
import os
import socket
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sagemaker_batch.json"
DATA, ARTIFACTS = "imgclf-bench-data", "imgclf-bench-artifacts"
INPUT_PREFIX, REVIEW_PREFIX = "sagemaker/inference/", "sagemaker/review/"
ENDPOINT = "imgclf-bench-classifier"
CLASSES = ["bicycle", "motorcycle"]
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00" + bytes(30_000)
VERSION_ID = "v1"
TODAY_MAX_CONCURRENCY = 10
#: Transitions of one child: today ``Folder?``, ``Validate``, ``Classify``, ``Confident?``,
#: ``ItemClassified``; batched: ``ClassifyBatchItems``.
TODAY_TRANSITIONS, BATCHED_TRANSITIONS = 5, 1
#: us-east-1 list prices (USD).
PRICES = {
    "standard_transition": 0.025 / 1000,
    "express_request": 1.00 / 1_000_000,
    "express_gb_second": 0.00001667,
    "lambda_request": 0.20 / 1_000_000,
    "lambda_arm_gb_second": 0.0000133334,
    "ml_m5_large_hour": 0.115,
}
#: Memory of each function as the stack deploys it (MB).
MEMORY = {"validate": 256, "classify": 512, "classify_batch": 1024}
TARGETS = {"invocations": 5.0, "throughput": 3.0, "cost": 1 / 3}


# --------------------------------------------------------------------------------------------
# the scripted endpoint and S3 (child process)
# --------------------------------------------------------------------------------------------


def serve(port_out: Any, latency_s: float, capacity: int, max_seconds: float) -> None:
    objects: dict[str, bytes] = {}
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(capacity)
    answer = json.dumps([0.96, 0.04]).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", 0)))

        def _key(self) -> str:
            return unquote(self.path.split("?", 1)[0].lstrip("/"))

        def do_POST(self) -> None:
            self._body()
            if not self.path.startswith(f"/endpoints/{ENDPOINT}/invocations"):
                self._send(404)
                return
            with slots:  # one instance slot per request in flight
                time.sleep(latency_s)
            self._send(
                200,
                answer,
                {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": "A"},
            )

        def do_PUT(self) -> None:
            body = self._body()
            if self._key() == "__seed__":
                with lock:
                    for key in json.loads(body):
                        objects[f"{DATA}/{key}"] = JPEG
            else:
                with lock:
                    objects[self._key()] = body
            self._send(200, b"", {"ETag": '"e"'})

        def _object(self) -> bytes | None:
            with lock:
                return objects.get(self._key())

        def do_HEAD(self) -> None:
            body = self._object()
            if body is None:
                self._send(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", '"e"')
            self.send_header("Last-Modified", formatdate(usegmt=True))
            self.send_header("x-amz-version-id", VERSION_ID)
            self.end_headers()

        def do_GET(self) -> None:
            body = self._object()
            if body is None:
                self._send(404, b"<Error><Code>NoSuchKey</Code></Error>")
                return
            first, _, last = (
                self.headers.get("Range", "bytes=0-").removeprefix("bytes=").partition("-")
            )
            end = min(int(last) if last else len(body) - 1, len(body) - 1)
            self._send(
                206 if "Range" in self.headers else 200,
                body[int(first) : end + 1],
                {"ETag": '"e"', "x-amz-version-id": VERSION_ID},
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_out.send(server.server_address[1])
    threading.Timer(max_seconds, server.shutdown).start()  # bounded: stops by itself
    server.serve_forever()


# --------------------------------------------------------------------------------------------
# the measured side (this process)
# --------------------------------------------------------------------------------------------


class Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


class Ledger:
    """Lambda invocations, their billed seconds per function, the children's transitions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.invocations: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.transitions = 0
        self.children = 0
        self.child_seconds = 0.0

    def invoke(self, name: str, handler: Any, event: Any, overhead_s: float) -> Any:
        time.sleep(overhead_s)
        started = time.monotonic()
        result = handler(event, Context())
        elapsed = time.monotonic() - started
        with self.lock:
            self.invocations[name] = self.invocations.get(name, 0) + 1
            self.seconds[name] = self.seconds.get(name, 0.0) + math.ceil(elapsed * 1000) / 1000
        return result

    def child(self, transitions: int, seconds: float) -> None:
        with self.lock:
            self.children += 1
            self.transitions += transitions
            self.child_seconds += seconds


def environment(port: int, invocations_per_batch: int) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "sagemaker-inference",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "DATA_BUCKET": DATA,
        "INPUT_PREFIX": INPUT_PREFIX,
        "DEFAULT_THRESHOLD": "0.9",
        "MAX_IMAGE_BYTES": str(6 * 1024 * 1024),
        "ENDPOINT_NAME": ENDPOINT,
        "CLASS_NAMES": json.dumps(CLASSES),
        "INVOKE_CONCURRENCY": str(invocations_per_batch),
        "REVIEW_BUCKET": ARTIFACTS,
        "REVIEW_PREFIX": REVIEW_PREFIX,
    }


def today(keys: list[str], arguments: argparse.Namespace, ledger: Ledger) -> None:
    from sagemaker_inference import classify, validate

    invoke_s = arguments.invoke_overhead_ms / 1000
    transition_s = arguments.transition_overhead_ms / 1000

    def child(key: str) -> None:
        started = time.monotonic()
        time.sleep(TODAY_TRANSITIONS * transition_s)
        state = ledger.invoke(
            "validate", validate.lambda_handler, {"s3_uri": f"s3://{DATA}/{key}"}, invoke_s
        )
        payload = {**state, "workflow": "SageMaker classify batch"}
        ledger.invoke("classify", classify.lambda_handler, payload, invoke_s)
        ledger.child(TODAY_TRANSITIONS, time.monotonic() - started)

    with ThreadPoolExecutor(max_workers=TODAY_MAX_CONCURRENCY) as pool:
        list(pool.map(child, keys))


def batched(keys: list[str], arguments: argparse.Namespace, ledger: Ledger) -> None:
    from sagemaker_inference import classify_batch

    invoke_s = arguments.invoke_overhead_ms / 1000
    transition_s = arguments.transition_overhead_ms / 1000
    size = arguments.batch_size
    batches = [keys[start : start + size] for start in range(0, len(keys), size)]

    def child(batch: list[str]) -> None:
        started = time.monotonic()
        time.sleep(BATCHED_TRANSITIONS * transition_s)
        event = {
            "Items": [{"s3_uri": f"s3://{DATA}/{key}"} for key in batch],
            "BatchInput": {"threshold": 0.9, "workflow": "SageMaker classify batch"},
        }
        output = ledger.invoke("classify_batch", classify_batch.lambda_handler, event, invoke_s)
        assert all(r["status"] == "classified" for r in output["results"]), output
        ledger.child(BATCHED_TRANSITIONS, time.monotonic() - started)

    with ThreadPoolExecutor(max_workers=max_concurrency(arguments)) as pool:
        list(pool.map(child, batches))


def capacity(arguments: argparse.Namespace) -> int:
    return int(arguments.instances * arguments.concurrency_per_instance)


def max_concurrency(arguments: argparse.Namespace) -> int:
    """As SageMakerConfig.batch_max_concurrency derives it."""
    return max(1, capacity(arguments) // arguments.invocations_per_batch)


def measure(design: Any, port: int, arguments: argparse.Namespace) -> dict[str, Any]:
    keys = [
        f"{INPUT_PREFIX}bench/{design.__name__}/{index:05d}.jpg"
        for index in range(arguments.images)
    ]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/__seed__", data=json.dumps(keys).encode(), method="PUT"
    )
    urllib.request.urlopen(request, timeout=30).read()
    ledger = Ledger()
    started = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        design(keys, arguments, ledger)
    wall = time.monotonic() - started
    per_1000 = 1000 / arguments.images
    invocations = sum(ledger.invocations.values())
    lambda_gb_s = sum(ledger.seconds[n] * MEMORY[n] / 1024 for n in ledger.seconds)
    # Express children are billed in 64 MB steps of memory; a child's state is small: 64 MB.
    express_gb_s = ledger.child_seconds * 64 / 1024
    endpoint_hours = arguments.instances * wall / 3600
    cost = {
        "map_children": ledger.children * PRICES["standard_transition"],
        "express": ledger.children * PRICES["express_request"]
        + express_gb_s * PRICES["express_gb_second"],
        "lambda": invocations * PRICES["lambda_request"]
        + lambda_gb_s * PRICES["lambda_arm_gb_second"],
        "endpoint": endpoint_hours * PRICES["ml_m5_large_hour"],
    }
    return {
        "images": arguments.images,
        "seconds": round(wall, 3),
        "images_per_second": round(arguments.images / wall, 2),
        "children": ledger.children,
        "lambda_invocations": invocations,
        "lambda_invocations_per_image": round(invocations / arguments.images, 4),
        "state_transitions_per_image": round(ledger.transitions / arguments.images, 4),
        "lambda_gb_seconds_per_1000": round(lambda_gb_s * per_1000, 3),
        "usd_per_1000_images": {k: round(v * per_1000, 6) for k, v in cost.items()},
        "usd_per_1000_images_total": round(sum(cost.values()) * per_1000, 6),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=100.0, help="endpoint latency")
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--concurrency-per-instance", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=20, help="max_items_per_batch")
    parser.add_argument("--invocations-per-batch", type=int, default=4)
    parser.add_argument("--invoke-overhead-ms", type=float, default=20.0)
    parser.add_argument("--transition-overhead-ms", type=float, default=5.0)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="fake endpoint lifetime")
    arguments = parser.parse_args(argv)

    spawn = multiprocessing.get_context("spawn")
    receiver, sender = spawn.Pipe(duplex=False)
    server = spawn.Process(
        target=serve,
        args=(sender, arguments.latency_ms / 1000, capacity(arguments), arguments.max_seconds),
        daemon=True,
    )
    server.start()
    try:
        if not receiver.poll(30):
            raise SystemExit("the scripted endpoint did not start")
        port = receiver.recv()
        os.environ.update(environment(port, arguments.invocations_per_batch))
        sys.path.insert(0, str(ROOT / "lambda_src"))
        results = {"today": measure(today, port, arguments)}
        results["batched"] = measure(batched, port, arguments)
    finally:
        server.terminate()
        server.join(5)
    return report(results, arguments)


def report(results: dict[str, Any], arguments: argparse.Namespace) -> int:
    old, new = results["today"], results["batched"]
    ratios = {
        "invocations": old["lambda_invocations_per_image"] / new["lambda_invocations_per_image"],
        "throughput": new["images_per_second"] / old["images_per_second"],
        "cost": new["usd_per_1000_images_total"] / old["usd_per_1000_images_total"],
    }
    met = {
        "invocations": ratios["invocations"] >= TARGETS["invocations"],
        "throughput": ratios["throughput"] >= TARGETS["throughput"],
        "cost": ratios["cost"] <= TARGETS["cost"],
    }
    rows = [
        ("images/s", "images_per_second"),
        ("Lambda invocations / image", "lambda_invocations_per_image"),
        ("child state transitions / image", "state_transitions_per_image"),
        ("Lambda GB-s / 1,000 images", "lambda_gb_seconds_per_1000"),
        ("USD / 1,000 images", "usd_per_1000_images_total"),
    ]
    print(
        f"{arguments.images} images, endpoint {arguments.instances} instances x "
        f"{arguments.concurrency_per_instance} concurrent, {arguments.latency_ms:.0f} ms; "
        f"batched: {arguments.batch_size} a batch, {arguments.invocations_per_batch} calls "
        f"in flight, MaxConcurrency {max_concurrency(arguments)} (today {TODAY_MAX_CONCURRENCY})"
    )
    print(f"| {'':33} | {'today':>10} | {'batched':>10} |")
    print(f"|{'-' * 35}|{'-' * 12}|{'-' * 12}|")
    for label, key in rows:
        print(f"| {label:33} | {old[key]:>10} | {new[key]:>10} |")
    for name, part in old["usd_per_1000_images"].items():
        print(f"| {'  USD ' + name:33} | {part:>10} | {new['usd_per_1000_images'][name]:>10} |")
    print(
        f"fewer invocations per image x{ratios['invocations']:.1f} (target >= 5), throughput "
        f"x{ratios['throughput']:.2f} (target >= 3), cost x{ratios['cost']:.3f} "
        f"(target <= 0.333): {'all targets met' if all(met.values()) else 'TARGETS MISSED'}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "arguments": vars(arguments),
                "results": results,
                "ratios": {k: round(v, 3) for k, v in ratios.items()},
                "targets_met": met,
                "prices": PRICES,
            },
            indent=2,
        )
        + "\n"
    )
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
