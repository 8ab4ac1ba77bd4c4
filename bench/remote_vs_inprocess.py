"""What does serving the model over HTTP (Open Inference Protocol) cost, against in process?

In one run, with the same engine config and the same closed-loop load (cache off, so
every request is computed):

1. the engine running the MLP in process;
2. the same engine on a :class:`RemoteBackend` pointed at ``clawlet-tui serve`` running
   the same MLP in a subprocess on 127.0.0.1 (its own engine batching server-side),
   tensors as JSON;
3. the same with the binary tensor data extension (raw float32 bytes after a JSON header);
4. binary again with 4x ``max_concurrent`` (a remote call mostly waits, so more batches
   in flight can hide the round trip);
5. the same as 4 against *two* ``serve`` replicas on this machine, the batches spread by a
   :class:`BalancedBackend` (least outstanding of two), against the one replica of 4;

and prints req/s of each and the ratio to in-process.  Both processes share this
machine's cores, so the ratio is an upper bound on what a real network would give.
It also times what one batch costs to put on the wire and take off it, both sides
(request and response, :mod:`clawlet_tui.remote.protocol` plus ``json``), as JSON and as
binary tensors, in this process: the part of the gap that the wire format decides.

    python bench/remote_vs_inprocess.py [--seconds 3] [--clients 64] [--layers 512,2048,512,2048,512]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from typing import Any

from clawlet_tui.engine import ClawletEngine, OptimizationConfig
from clawlet_tui.models import MLPModel
from clawlet_tui.remote import BalancedBackend, RemoteBackend, TensorSpec
from clawlet_tui.remote.protocol import (
    decode_infer_request,
    decode_infer_response,
    encode_infer_request,
    encode_infer_request_binary,
    encode_infer_response,
    encode_infer_response_binary,
    split_body,
)

SERVER_CODE = """
import sys
from clawlet_tui.engine import OptimizationConfig
from clawlet_tui.remote import run_server
config = OptimizationConfig(batch_size={batch}, batch_timeout_s=0.002, max_concurrent={workers},
                            enable_cache=False, l2_cache_dir={l2!r})
sys.exit(run_server({{"kind": "mlp", "layers": {layers!r}}}, "127.0.0.1", 0, config))
"""


async def closed_loop(engine: ClawletEngine, model: Any, clients: int, seconds: float) -> float:
    """Requests/s with ``clients`` each sending the next request when the last returns."""
    await engine.start()
    try:
        payloads = [model.make_input(k) for k in range(1024)]
        for p in payloads[:clients]:  # warm up (connections, BLAS)
            await engine.submit(p)
        engine.reset_metrics()
        counts = [0] * clients
        deadline = time.perf_counter() + seconds

        async def client(i: int) -> None:
            k = i
            while time.perf_counter() < deadline:
                await engine.submit(payloads[k % len(payloads)])
                counts[i] += 1
                k += clients

        start = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        return sum(counts) / (time.perf_counter() - start)
    finally:
        await engine.stop()


def codec_ms(model: MLPModel, batch: int, *, binary: bool, repeat: int = 20) -> float:
    """Milliseconds to encode and decode one batch's request (its inputs) and response (the model's outputs)."""
    items = [model.make_input(k) for k in range(batch)]
    outputs = list(model.predict(items))
    spec = TensorSpec("input", "FP32", (-1, *items[0].shape))

    def round_trip() -> None:
        if binary:
            body, length = encode_infer_request_binary(items, "input", output_name="output")
            header, data = split_body(body, str(length))
            decode_infer_request(header, spec, data)
            body, length = encode_infer_response_binary("m", "output", outputs)
            header, data = split_body(body, str(length))
            decode_infer_response(header, batch, "output", data)
        else:
            body = json.dumps(encode_infer_request(items, "input")).encode()
            decode_infer_request(json.loads(body), spec)
            body = json.dumps(encode_infer_response("m", "output", outputs)).encode()
            decode_infer_response(json.loads(body), batch, "output")

    round_trip()
    start = time.perf_counter()
    for _ in range(repeat):
        round_trip()
    return (time.perf_counter() - start) / repeat * 1e3


async def start_server(args: argparse.Namespace, l2: str) -> tuple[asyncio.subprocess.Process, str]:
    """One ``serve`` subprocess of the MLP on a free port, and its URL once it listens."""
    code = SERVER_CODE.format(batch=args.batch, workers=args.workers, l2=l2, layers=list(args.layers))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    if " at http" not in line:
        proc.kill()
        raise SystemExit(f"server did not start: {line!r}")
    return proc, line.split(" at ")[1].split("/v2/")[0]


async def remote_run(
    args: argparse.Namespace, config: OptimizationConfig, l2: str, *, binary: bool, replicas: int = 1
) -> tuple[float, Any]:
    servers = [await start_server(args, l2) for _ in range(replicas)]
    try:
        urls = [url for _, url in servers]
        backend: RemoteBackend | BalancedBackend
        if replicas == 1:
            backend = RemoteBackend(urls[0], max_connections=config.effective_pool_size, binary=binary)
        else:
            backend = BalancedBackend(urls, max_connections=config.effective_pool_size, binary=binary)
        engine = ClawletEngine(config, model=backend.model_info, backend=backend)
        rate = await closed_loop(engine, backend.model_info, args.clients, args.seconds)
        return rate, engine.snapshot()
    finally:
        for proc, _ in servers:
            proc.terminate()
            await proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--clients", type=int, default=64, help="closed-loop clients")
    parser.add_argument("--batch", type=int, default=32, help="batch size (client and server)")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2), help="max_concurrent")
    parser.add_argument("--layers", type=lambda s: tuple(int(n) for n in s.split(",")), default=(512, 2048, 512, 2048, 512))
    args = parser.parse_args()
    l2 = tempfile.mkdtemp(prefix="clawlet-bench-")
    model = MLPModel(layers=args.layers)
    config = OptimizationConfig(
        batch_size=args.batch, batch_timeout_s=0.002, max_concurrent=args.workers, enable_cache=False, l2_cache_dir=l2
    )
    print(f"# remote vs in-process: {model.describe()}")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"batch {args.batch}, {args.workers} workers, {args.clients} clients, {args.seconds:g} s per point\n")
    json_ms, binary_ms = codec_ms(model, args.batch, binary=False), codec_ms(model, args.batch, binary=True)
    local = asyncio.run(closed_loop(ClawletEngine(config, model), model, args.clients, args.seconds))
    remote_json, _ = asyncio.run(remote_run(args, config, l2, binary=False))
    remote, snap = asyncio.run(remote_run(args, config, l2, binary=True))
    deeper = config.replace(max_concurrent=args.workers * 4)
    remote_deep, _ = asyncio.run(remote_run(args, deeper, l2, binary=True))
    two, two_snap = asyncio.run(remote_run(args, deeper, l2, binary=True, replicas=2))
    print("| backend | req/s | / in process |\n|---|---:|---:|")
    print(f"| in process, max_concurrent {args.workers} | {local:,.0f} | 1.00 |")
    print(f"| remote (serve on 127.0.0.1), JSON tensors, same config | {remote_json:,.0f} | {remote_json / local:.2f} |")
    print(f"| remote, binary tensors, same config | {remote:,.0f} | {remote / local:.2f} |")
    print(f"| remote, binary, client max_concurrent {args.workers * 4} (more batches in flight) | {remote_deep:,.0f} | "
          f"{remote_deep / local:.2f} |")
    print(f"| two serve replicas, balanced, otherwise as the line above | {two:,.0f} | {two / local:.2f} |")
    print(f"\nwire format, one batch of {args.batch} encoded and decoded, request and response: "
          f"JSON {json_ms:.1f} ms, binary {binary_ms:.2f} ms ({json_ms / binary_ms:,.0f}x)")
    pool = snap.pool
    print(f"\nremote pool: {pool.size} slots, {pool.created} connections opened, {pool.waits} waits, "
          f"{pool.discarded} reconnects; mean client batch {snap.batches.mean_size:.1f}")
    spread = ", ".join(f"{b.batches} batches ({b.errors} failed)" for b in two_snap.backends)
    print(f"two replicas vs one (same client): {two / remote_deep:.2f}x; batches per replica: {spread}; "
          f"{os.cpu_count()} cores shared by the client and every replica")
    return 0


if __name__ == "__main__":
    sys.exit(main())
