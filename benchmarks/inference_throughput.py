#!/usr/bin/env python3
"""Throughput of the real inference handler against a local fake Rekognition + S3 endpoint.

    .venv/bin/python benchmarks/inference_throughput.py [--invocations 20] [--latency-ms 100]

A child process serves DetectCustomLabels (after ``--latency-ms``), the S3 calls the handler
makes (PutObject of the record; HeadObject of a record on a redelivery and the ranged GetObject
that diagnoses a rejected object are served too, though a run of new, valid images makes
neither) and SSM GetParameter of the pace the model controller publishes, on 127.0.0.1 only;
it stops by itself after ``--max-seconds``. boto3 reaches it through ``AWS_ENDPOINT_URL``. The
handler runs in this process, unchanged, with the environment variables the stack gives it
(``CAPACITY_PARAMETER`` included: every run reads its pace as deployed, at most every 30 s), on
EventBridge "Object Created" events that carry what S3 puts in them (key, size, ETag, version
id). Measured:

- images per second per invocation: a batch of 10 processed concurrently (the default
  DETECT_CONCURRENCY) versus one image at a time (DETECT_CONCURRENCY=1, and one message per
  invocation as the original consumers did);
- the handler's own overhead per image: what it costs beyond its AWS API calls (2 per image:
  DetectCustomLabels by S3 reference and PutObject of the result; message parsing, checks,
  record building, JSON, batch framework, threads, logging, metrics), as CPU time and, for the
  sequential run, as wall time; every boto3 call is timed (wall and thread CPU) and
  subtracted. The AWS SDK's own cost per call is reported next to it, with the calls per image:
  it is the same for any consumer making these calls, and depends on the machine;
- the pacing: with the pace published for one inference unit (2.5 images/s per invocation)
  and for two (5), within the bounds prod's consumer has, the rate holds. The unpaced runs are
  published a pace no invocation reaches (1,000 calls/s), so the pacer runs as in production.

Prints a table and writes ``benchmarks/results/inference_throughput.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import socket
import statistics
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "inference_throughput.json"
DATA, ARTIFACTS = "imgclf-bench-data", "imgclf-bench-artifacts"
MODEL_ARN = (
    "arn:aws:rekognition:us-east-1:123456789012:project/bench/version/bench.v1/1700000000000"
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(2048)
#: What the fake S3 answers for every seeded object, and what the events say about it.
ETAG = "0f343b0931126a20f133d67c2b018a3b"
VERSION_ID = "v1"
CAPACITY_PARAMETER = "/imgclf-bench/rekognition/consumer-capacity"
TARGET_SPEEDUP = 6.0
TARGET_OVERHEAD_MS = 5.0
#: Published to the unpaced runs: more calls per second than an invocation makes here.
UNREACHED_PACE = 1000.0


# --------------------------------------------------------------------------------------------
# the fake endpoint (child process)
# --------------------------------------------------------------------------------------------


def serve(port_out: Any, latency_s: float, max_seconds: float) -> None:
    """Fake Rekognition and SSM (JSON protocol) and S3 (path-style REST) on 127.0.0.1."""
    objects: dict[str, bytes] = {}
    parameters: dict[str, str] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes: without this, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every response.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args: Any) -> None:  # quiet
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
            request = json.loads(self._body() or b"{}")
            if self.headers.get("X-Amz-Target") == "AmazonSSM.GetParameter":
                name = request.get("Name", "")
                with lock:
                    value = parameters.get(name)
                if value is None:
                    self._send(400, json.dumps({"__type": "ParameterNotFound"}).encode())
                    return
                parameter = {"Name": name, "Type": "String", "Value": value, "Version": 1}
                self._send(
                    200,
                    json.dumps({"Parameter": parameter}).encode(),
                    {"Content-Type": "application/x-amz-json-1.1"},
                )
                return
            if self.headers.get("X-Amz-Target") != "RekognitionService.DetectCustomLabels":
                self._send(400, b"{}")
                return
            time.sleep(latency_s)
            # The service reads the object by S3 reference (the version the event named).
            image = request.get("Image", {}).get("S3Object", {})
            with lock:
                found = f"{image.get('Bucket')}/{image.get('Name')}" in objects
            if not found or image.get("Version", VERSION_ID) != VERSION_ID:
                answer: dict[str, Any] = {
                    "__type": "InvalidS3ObjectException",
                    "message": "Unable to get object metadata from S3.",
                }
                status = 400
            else:
                answer = {"CustomLabels": [{"Name": "circle", "Confidence": 97.5}]}
                status = 200
            self._send(
                status, json.dumps(answer).encode(), {"Content-Type": "application/x-amz-json-1.1"}
            )

        def do_PUT(self) -> None:
            body = self._body()
            key = self._key()
            if key == "__seed__":
                for item in json.loads(body):
                    objects[f"{DATA}/{item}"] = PNG
            elif key == "__parameter__":
                with lock:
                    parameters.update(json.loads(body))
            else:
                with lock:
                    objects[key] = body
            self._send(200, b"", {"ETag": f'"{ETAG}"'})

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
            self.send_header("ETag", f'"{ETAG}"')
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
            part = body[int(first) : end + 1]
            self._send(
                206,
                part,
                {
                    "Content-Range": f"bytes {first}-{end}/{len(body)}",
                    "ETag": f'"{ETAG}"',
                    "x-amz-version-id": VERSION_ID,
                    "Last-Modified": formatdate(usegmt=True),
                },
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
    function_name = "consumer"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:consumer"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def event(keys: list[str]) -> dict[str, Any]:
    records = []
    for index, key in enumerate(keys):
        body = json.dumps(
            {
                "version": "0",
                "id": f"e{index}",
                "detail-type": "Object Created",
                "source": "aws.s3",
                "time": "2026-01-01T00:00:00Z",
                "detail": {
                    "bucket": {"name": DATA},
                    "object": {
                        "key": key,
                        "size": len(PNG),
                        "etag": ETAG,
                        "version-id": VERSION_ID,
                        "sequencer": f"{index:016X}",
                    },
                },
            }
        )
        records.append(
            {
                "messageId": f"m{index}",
                "receiptHandle": "r",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(time.time() * 1000)),
                    "SenderId": "x",
                    "ApproximateFirstReceiveTimestamp": "1",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:inference",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}


class Ledger:
    """Wall and CPU time spent inside AWS API calls, summed over threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.wall = 0.0
        self.cpu = 0.0

    def add(self, wall: float, cpu: float) -> None:
        with self.lock:
            self.calls += 1
            self.wall += wall
            self.cpu += cpu


class Timed:
    """A boto3 client whose API calls are timed into a ledger (response bodies read inside)."""

    def __init__(self, client: Any, ledger: Ledger) -> None:
        self._client = client
        self._ledger = ledger

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name.startswith("_") or not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                response = method(*args, **kwargs)
                if isinstance(response, dict) and hasattr(response.get("Body"), "read"):
                    response["Body"] = io.BytesIO(response["Body"].read())
                return response
            finally:
                self._ledger.add(time.perf_counter() - wall, time.thread_time() - cpu)

        return call


def publish_pace(port: int, pace: float) -> None:
    """What the model controller would publish (the fake SSM serves it)."""
    import urllib.request

    document = json.dumps(
        {
            "schema": "imgclf.rekognition.consumer-capacity/1",
            "inference_units": 1,
            "max_concurrency": 2,
            "invocation_tps": pace,
        }
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/__parameter__",
        data=json.dumps({CAPACITY_PARAMETER: document}).encode(),
        method="PUT",
    )
    urllib.request.urlopen(request, timeout=10).read()


def measure(
    handler: Any,
    batches: list[list[str]],
    concurrency: int,
    invocation_tps: float,
    *,
    port: int,
    bounds: tuple[float, float] | None = None,
) -> dict[str, float]:
    """Invoke the handler once per batch; wall and CPU time per invocation and per image.

    ``invocation_tps`` is published for the handler to read (as the controller does);
    ``bounds`` are the INVOCATION_TPS/MAX_INVOCATION_TPS it accepts it within (None: unpaced
    fallback, no ceiling).
    """
    publish_pace(port, invocation_tps)
    os.environ["DETECT_CONCURRENCY"] = str(concurrency)
    os.environ["INVOCATION_TPS"] = str(bounds[0] if bounds else 0)
    os.environ["MAX_INVOCATION_TPS"] = str(bounds[1] if bounds else "")
    handler.runtime.cache_clear()
    classifier = handler.runtime().classifier
    # The benchmark's only intrusion: time the clients' calls to tell SDK from handler cost.
    ledger = Ledger()
    classifier.storage.s3 = Timed(classifier.storage.s3, ledger)
    classifier._rekognition = Timed(classifier._rekognition, ledger)
    handler.lambda_handler(event(batches[0]), Context())  # warm: clients, connections
    ledger = Ledger()
    classifier.storage.s3._ledger = classifier._rekognition._ledger = ledger
    rate = handler.runtime().classifier.pacer.rate or 0.0
    if abs(rate - invocation_tps) > 1e-6:
        raise SystemExit(f"the handler paces at {rate}/s, not the published {invocation_tps}/s")
    walls, cpus, images = [], [], 0
    for batch in batches[1:]:
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        response = handler.lambda_handler(event(batch), Context())
        walls.append(time.perf_counter() - started_wall)
        cpus.append(time.process_time() - started_cpu)
        assert response == {"batchItemFailures": []}, response
        images += len(batch)
    per_invocation = statistics.median(walls)
    size = len(batches[1])
    return {
        "batch_size": size,
        "detect_concurrency": concurrency,
        "invocation_tps": invocation_tps,
        "invocations": len(walls),
        "median_seconds_per_invocation": per_invocation,
        "images_per_second": size / per_invocation,
        "cpu_ms_per_image": 1000 * sum(cpus) / images,
        "wall_ms_per_image": 1000 * sum(walls) / images,
        "aws_calls_per_image": ledger.calls / images,
        "sdk_cpu_ms_per_call": 1000 * ledger.cpu / max(ledger.calls, 1),
        "own_cpu_ms_per_image": 1000 * (sum(cpus) - ledger.cpu) / images,
        "own_wall_ms_per_image": 1000 * (sum(walls) - ledger.wall) / images,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invocations", type=int, default=20, help="measured invocations per run")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="fake service latency")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="fake endpoint lifetime")
    arguments = parser.parse_args(argv)

    receiver, sender = multiprocessing.get_context("spawn").Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(sender, arguments.latency_ms / 1000, arguments.max_seconds), daemon=True
    )
    server.start()
    try:
        if not receiver.poll(30):
            raise SystemExit("the fake endpoint did not start")
        port = receiver.recv()
        results = run(port, arguments)
    finally:
        server.terminate()
        server.join(5)
    report(results, arguments)
    return 0 if results["targets_met"] else 1


def run(port: int, arguments: argparse.Namespace) -> dict[str, Any]:
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "rekognition-inference",
            "POWERTOOLS_METRICS_NAMESPACE": "ImageClassification/bench",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "DATA_BUCKET": DATA,
            "ARTIFACTS_BUCKET": ARTIFACTS,
            "INPUT_PREFIX": "incoming/",
            "MIN_CONFIDENCE": "0.5",
            "REVIEW_THRESHOLD": "0.8",
            "PROJECT_NAME": "bench",
            "MODEL_VERSION_ARN": MODEL_ARN,
            "MODEL_VERSION_PARAMETER": "/imgclf-bench/rekognition/model-version-arn",
            "CAPACITY_PARAMETER": CAPACITY_PARAMETER,
        }
    )
    sys.path[:0] = [str(ROOT / "lambda_src")]
    import urllib.request

    count = arguments.invocations + 1
    keys = [f"incoming/bench/{index:05d}.png" for index in range(count * 10)]
    seed = urllib.request.Request(
        f"http://127.0.0.1:{port}/__seed__", data=json.dumps(keys).encode(), method="PUT"
    )
    urllib.request.urlopen(seed, timeout=10).read()

    from rekognition_inference import handler

    batches = [keys[i : i + 10] for i in range(0, len(keys), 10)]
    singles = [[key] for key in keys[:count]]
    unpaced = UNREACHED_PACE
    prod = (2.5, 5.0)  # prod's consumer: INVOCATION_TPS, MAX_INVOCATION_TPS (1..2 units)
    with contextlib.redirect_stdout(io.StringIO()):  # EMF metrics and logs go to stdout
        concurrent = measure(handler, batches, 10, unpaced, port=port)
        sequential = measure(handler, batches, 1, unpaced, port=port)
        one_per_invocation = measure(handler, singles, 1, unpaced, port=port)
        paced = measure(handler, batches[:4], 10, 2.5, port=port, bounds=prod)
        paced_two = measure(handler, batches[:4], 10, 5.0, port=port, bounds=prod)
    latency_ms = arguments.latency_ms
    speedup = concurrent["images_per_second"] / one_per_invocation["images_per_second"]
    speedup_batch = concurrent["images_per_second"] / sequential["images_per_second"]
    overhead_cpu = max(concurrent["own_cpu_ms_per_image"], sequential["own_cpu_ms_per_image"])
    overhead_wall = sequential["own_wall_ms_per_image"]
    return {
        "service_latency_ms": latency_ms,
        "runs": {
            "batch of 10, concurrent (DETECT_CONCURRENCY=10)": concurrent,
            "batch of 10, one at a time (DETECT_CONCURRENCY=1)": sequential,
            "one message per invocation": one_per_invocation,
            "batch of 10, paced for 1 unit (2.5 images/s published)": paced,
            "batch of 10, paced for 2 units (5 images/s published)": paced_two,
        },
        "speedup_vs_one_per_invocation": speedup,
        "speedup_vs_sequential_batch": speedup_batch,
        "handler_own_cpu_ms_per_image": overhead_cpu,
        "handler_own_wall_ms_per_image_sequential": overhead_wall,
        "sdk_cpu_ms_per_call": sequential["sdk_cpu_ms_per_call"],
        "aws_calls_per_image": sequential["aws_calls_per_image"],
        "targets": {"speedup": TARGET_SPEEDUP, "overhead_ms": TARGET_OVERHEAD_MS},
        "targets_met": min(speedup, speedup_batch) >= TARGET_SPEEDUP
        and max(overhead_cpu, overhead_wall) <= TARGET_OVERHEAD_MS,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def report(results: dict[str, Any], arguments: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Inference handler throughput (fake service latency {arguments.latency_ms:g} ms)"
    )
    columns = (
        "Run",
        "Images/s per invocation",
        "s per invocation",
        "Wall ms/image",
        "CPU ms/image",
        "of it AWS SDK",
        "Handler's own CPU ms/image",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "Run" else "right")
    for name, run in results["runs"].items():
        sdk = run["cpu_ms_per_image"] - run["own_cpu_ms_per_image"]
        table.add_row(
            name,
            f"{run['images_per_second']:.1f}",
            f"{run['median_seconds_per_invocation']:.3f}",
            f"{run['wall_ms_per_image']:.1f}",
            f"{run['cpu_ms_per_image']:.2f}",
            f"{sdk:.2f}",
            f"{run['own_cpu_ms_per_image']:.2f}",
        )
    console = Console(width=max(120, Console().width))
    console.print(table)
    met = "[green]met[/green]" if results["targets_met"] else "[red]NOT met[/red]"
    console.print(
        f"Speed-up of a concurrent batch: {results['speedup_vs_one_per_invocation']:.1f}x one "
        f"message per invocation, {results['speedup_vs_sequential_batch']:.1f}x one at a time "
        f"(target >= {TARGET_SPEEDUP:g}x). Handler's own overhead beyond its "
        f"{results['aws_calls_per_image']:.0f} AWS calls per image: "
        f"{results['handler_own_cpu_ms_per_image']:.2f} ms CPU, "
        f"{results['handler_own_wall_ms_per_image_sequential']:.2f} ms wall per image "
        f"(target <= {TARGET_OVERHEAD_MS:g} ms); the AWS SDK itself costs "
        f"{results['sdk_cpu_ms_per_call']:.1f} ms CPU per call on this machine. Targets {met}."
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"Written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
