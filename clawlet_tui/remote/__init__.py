"""Remote model backends over the Open Inference Protocol (KServe v2 REST), both sides.

    backend = RemoteBackend("http://127.0.0.1:8000", "mlp-8x16x8", max_connections=8)
    engine = ClawletEngine(config, model=backend.model_info, backend=backend)

    backend = BalancedBackend(["http://10.0.0.1:8000", "http://10.0.0.2:8000"])  # several replicas

    async with running_server(MLPModel(), port=0) as server:   # or: clawlet-tui serve
        ...server.url...

aiohttp is imported here, so importing this package needs it; the engine never does.
"""

from .balancer import BalancedBackend
from .client import RemoteBackend, RemoteModelInfo
from .protocol import ModelMetadata, ProtocolError, TensorSpec
from .server import InferenceServer, ServeError, run_server, running_server, serve

__all__ = [
    "BalancedBackend",
    "InferenceServer",
    "ModelMetadata",
    "ProtocolError",
    "RemoteBackend",
    "RemoteModelInfo",
    "ServeError",
    "TensorSpec",
    "run_server",
    "running_server",
    "serve",
]
