"""``serve`` with an ONNX model: served under its file stem, described by the graph (OIP metadata)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from models.onnx_graphs import mlp_graph, save  # noqa: E402

from clawlet_tui.cli import default_served_name  # noqa: E402
from clawlet_tui.engine import OptimizationConfig  # noqa: E402
from clawlet_tui.models import MLPModel, build_model  # noqa: E402
from clawlet_tui.remote import RemoteBackend, running_server  # noqa: E402

LAYERS = (16, 32, 8)


async def test_an_onnx_model_is_served_under_its_stem_with_its_tensor_names(tmp_path: Path) -> None:
    mlp = MLPModel(LAYERS)
    spec = {"kind": "onnx", "path": str(save(mlp_graph(mlp), tmp_path / "tiny-net.onnx"))}
    model = build_model(spec)
    config = OptimizationConfig(l2_cache_dir=str(tmp_path / "l2"), enable_l2=False)
    async with running_server(model, engine_config=config, model_name=default_served_name(spec)) as server:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/v2") as r:
                assert (await r.json())["models"] == ["tiny-net"]
            async with http.get(f"{server.url}/v2/models/tiny-net") as r:
                meta = await r.json()
            inputs = [mlp.make_input(k) for k in range(3)]
            body = {"inputs": [{"name": "x", "shape": [3, LAYERS[0]], "datatype": "FP32",
                                "data": np.stack(inputs).ravel().tolist()}]}
            async with http.post(f"{server.url}/v2/models/tiny-net/infer", json=body) as r:
                assert r.status == 200
                answer = await r.json()
        # a clawlet client finds the input by the metadata's name and reads the output it names
        remote = RemoteBackend(server.url)
        await remote.start()
        try:
            via_client = await remote.run(inputs, timeout_s=10)
        finally:
            await remote.close()
    assert meta == {
        "name": "tiny-net",
        "versions": ["1"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, LAYERS[0]]}],
        "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, LAYERS[-1]]}],
    }
    (output,) = answer["outputs"]
    assert output["name"] == "y" and output["shape"] == [3, LAYERS[-1]]
    expected = np.stack(mlp.predict(inputs))
    np.testing.assert_allclose(np.asarray(output["data"], dtype=np.float32).reshape(3, -1), expected, atol=1e-5)
    np.testing.assert_allclose(np.stack(via_client), expected, atol=1e-5)
