"""An ONNX model run by ONNX Runtime: the field's interchange format on its standard CPU runtime.

A preset names the file, relative to the preset::

    [model]
    kind = "onnx"
    path = "model.onnx"
    inputs = "inputs.npy"   # optional: rows fed to the model, key k -> row k mod N

What it guarantees:

* **Input spec from the model.**  The model must have one input (the engine feeds one
  tensor per request) and its first output is served.  The input's name, shape and dtype
  come from the graph; every dimension after the batch axis must be fixed (or come from
  the ``inputs`` file), so a request is one item of that shape.
* **Batching needs a dynamic batch axis.**  A symbolic first dimension batches like the
  numpy MLP.  A first dimension fixed at 1 cannot take a batch: :attr:`max_batch_size`
  is 1, the engine forces ``batch_size`` to 1 (and logs it), the CLI prints
  :attr:`notice` once, and should a longer batch still arrive, ``predict`` runs its items
  one by one rather than failing.  Any other fixed first dimension is refused.
* **One ONNX Runtime session per worker.**  :meth:`worker_predict` is the engine's
  per-worker hook: each pool worker gets its own ``InferenceSession`` with
  ``intra_op_num_threads`` = the engine's ``blas_threads`` (the same "workers are the
  parallelism" rule the numpy BLAS follows), created lazily on the worker's own thread so
  building it never blocks the event loop.  :meth:`predict` (direct use, benchmarks) uses
  one shared session, which ONNX Runtime allows to be run from several threads.
* **Deterministic inputs.**  ``make_input(key)`` is a seeded float vector of the input's
  item shape (the :class:`InputBank` the MLP uses) or row ``key mod N`` of the ``inputs``
  file; integer and boolean inputs need the file (the graph does not say their range).
* **Missing runtime.**  Without ``onnxruntime`` installed, building the model is one
  :class:`ConfigError` that says what to install.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.errors import ConfigError
from .inputs import InputBank

#: what to tell a user whose preset asks for onnx without the runtime
INSTALL_HINT = "pip install 'clawlet-tui[onnx]'"

#: ONNX Runtime's type strings -> numpy dtype and the Open Inference Protocol datatype
_TYPES: dict[str, tuple[np.dtype[Any], str]] = {
    "tensor(float)": (np.dtype(np.float32), "FP32"),
    "tensor(double)": (np.dtype(np.float64), "FP64"),
    "tensor(float16)": (np.dtype(np.float16), "FP16"),
    "tensor(int64)": (np.dtype(np.int64), "INT64"),
    "tensor(int32)": (np.dtype(np.int32), "INT32"),
    "tensor(int16)": (np.dtype(np.int16), "INT16"),
    "tensor(int8)": (np.dtype(np.int8), "INT8"),
    "tensor(uint8)": (np.dtype(np.uint8), "UINT8"),
    "tensor(bool)": (np.dtype(np.bool_), "BOOL"),
}


def import_onnxruntime() -> Any:
    """The ``onnxruntime`` module, or a ConfigError naming the package to install."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            f"kind 'onnx' needs onnxruntime, which is not installed: {INSTALL_HINT}", field="kind"
        ) from None
    return onnxruntime


@dataclass(frozen=True)
class OnnxTensor:
    """One input or output as the graph declares it; ``None`` or a name for a symbolic dimension."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: np.dtype[Any]
    #: the Open Inference Protocol datatype (FP32, INT64, ...)
    datatype: str

    @property
    def dynamic_batch(self) -> bool:
        return bool(self.shape) and not isinstance(self.shape[0], int)

    @property
    def item_shape(self) -> tuple[int | str | None, ...]:
        return self.shape[1:]


def _tensor(arg: Any, what: str) -> OnnxTensor:
    if arg.type not in _TYPES:
        supported = ", ".join(t[7:-1] for t in _TYPES)
        raise ConfigError(f"{what} {arg.name!r} is {arg.type}; supported: {supported}", field="path")
    dtype, datatype = _TYPES[arg.type]
    shape = tuple(d if isinstance(d, int) and d >= 0 else (d or None) for d in (arg.shape or ()))
    return OnnxTensor(arg.name, shape, dtype, datatype)


class OnnxModel:
    """An ``.onnx`` file served like any model; see the module doc for what it guarantees."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        inputs: str | os.PathLike[str] | None = None,
        seed: int = 0,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        ort = import_onnxruntime()
        self._ort = ort
        file = _resolve(path, base_dir, field="path", suffix=".onnx")
        self.path = file
        try:
            self._bytes = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {str(file)!r}: {exc.strerror or exc}", field="path") from None
        try:
            session = self._session(threads=1)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
            why = " ".join(str(exc).split())[:300]
            raise ConfigError(f"{str(file)!r} is not a model ONNX Runtime can load: {why}", field="path") from None
        graph_inputs = session.get_inputs()
        if len(graph_inputs) != 1:
            names = ", ".join(repr(i.name) for i in graph_inputs)
            raise ConfigError(
                f"{file.name} has {len(graph_inputs)} inputs ({names}); clawlet feeds exactly one tensor per request",
                field="path",
            )
        self.input = _tensor(graph_inputs[0], "input")
        self.output = _tensor(session.get_outputs()[0], "output")
        self.name = file.stem
        #: what persistent (L2) cache entries are keyed under: same file content, same outputs
        self.cache_namespace = f"onnx-{self.name}-{_digest(self._bytes)}"
        if not self.input.shape:
            raise ConfigError(f"{file.name} input {self.input.name!r} is a scalar; clawlet needs a batch axis", field="path")
        batch_axis = self.input.shape[0]
        if isinstance(batch_axis, int) and batch_axis != 1:
            raise ConfigError(
                f"{file.name} input {self.input.name!r} has shape {_show(self.input.shape)}: a batch fixed at "
                f"{batch_axis}; "
                "clawlet needs a dynamic batch axis (or a batch of 1, run unbatched)",
                field="path",
            )
        #: None (any batch) or 1: the engine never forms larger batches than this
        self.max_batch_size: int | None = None if self.input.dynamic_batch else 1
        self.notice: str | None = None
        if self.max_batch_size == 1:
            self.notice = (
                f"{file.name}: input {self.input.name!r} has a fixed batch of 1 (shape {_show(self.input.shape)}), "
                "so it runs unbatched (batch_size forced to 1); export it with a dynamic batch axis to batch"
            )
        self._rows: np.ndarray | None = None
        self._rows_source: str | None = None
        self._bank: InputBank | None = None
        if inputs is not None:
            self._rows = self._load_rows(_resolve(inputs, base_dir, field="inputs", suffix=".npy"))
            self.item_shape: tuple[int, ...] = tuple(self._rows.shape[1:])
        else:
            if any(not isinstance(d, int) for d in self.input.item_shape):
                raise ConfigError(
                    f"{file.name} input {self.input.name!r} has shape {_show(self.input.shape)}: dimensions after "
                    "the batch axis must be fixed to generate inputs; give model.inputs = \"file.npy\"",
                    field="inputs",
                )
            if self.input.dtype.kind not in "f":
                raise ConfigError(
                    f"{file.name} input {self.input.name!r} is {self.input.datatype}: generated inputs are floats "
                    "only (the graph does not say the range of its integers); give model.inputs = \"file.npy\"",
                    field="inputs",
                )
            self.item_shape = tuple(int(d) for d in self.input.item_shape)  # type: ignore[arg-type]
            self._bank = InputBank(max(math.prod(self.item_shape), 1), seed)
        out_items = self.output.item_shape
        #: one output item's shape when the graph fixes it (serve's metadata reads it)
        self.output_shape: tuple[int, ...] | None = (
            tuple(int(d) for d in out_items) if all(isinstance(d, int) for d in out_items) else None  # type: ignore[arg-type]
        )
        #: the tensor names serve's metadata uses, and Triton's platform name for ONNX models
        self.input_name = self.input.name
        self.output_name = self.output.name
        self.platform = "onnxruntime_onnx"
        self._shared = session
        self._lock = threading.Lock()

    # -- sessions -----------------------------------------------------------------------

    def _session(self, threads: int) -> Any:
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
        # the pool's threads are the parallelism: a spinning ORT thread pool would steal their cores
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return self._ort.InferenceSession(self._bytes, sess_options=options, providers=["CPUExecutionProvider"])

    def worker_predict(self, threads: int) -> Callable[[Sequence[Any]], list[np.ndarray]]:
        """The engine's per-worker hook: a predict bound to a session this worker alone runs.

        The session is made on the first call, on the worker's thread, with ``threads``
        intra-op threads (the engine's ``blas_threads``).
        """
        session: list[Any] = []

        def predict(batch: Sequence[Any]) -> list[np.ndarray]:
            if not session:
                session.append(self._session(threads))
            return self._run(session[0], batch)

        return predict

    # -- Model protocol -----------------------------------------------------------------

    def predict(self, batch: Sequence[Any]) -> list[np.ndarray]:
        return self._run(self._shared, batch)

    def _run(self, session: Any, batch: Sequence[Any]) -> list[np.ndarray]:
        x = np.stack([np.asarray(item, dtype=self.input.dtype).reshape(self.item_shape) for item in batch])
        if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
            bad = [i for i, item in enumerate(x) if not np.all(np.isfinite(item))]
            raise ValueError(f"non-finite input at batch positions {bad}")
        feed, out = self.input.name, [self.output.name]
        if self.max_batch_size == 1 and len(x) > 1:  # a fixed batch of 1: one run per item
            return [session.run(out, {feed: x[i : i + 1]})[0][0].copy() for i in range(len(x))]
        result = session.run(out, {feed: x})[0]
        if len(result) != len(x):
            raise ValueError(f"{self.name}: output {self.output.name!r} has {len(result)} rows for a batch of {len(x)}")
        return [row.copy() for row in result]

    def make_input(self, key: int) -> np.ndarray:
        if self._rows is not None:
            return self._rows[int(key) % len(self._rows)]
        assert self._bank is not None
        return self._bank.payload(key).reshape(self.item_shape)

    def describe(self) -> str:
        batch = "dynamic batch" if self.max_batch_size is None else "fixed batch 1, unbatched"
        source = f", inputs from {self._rows_source}" if self._rows is not None else ""
        return (
            f"ONNX model {self.path.name} ({self.input.name} {self.input.datatype} {_show(self.input.shape)} -> "
            f"{self.output.name} {_show(self.output.shape)}, {batch}{source}), ONNX Runtime {self._ort.__version__}"
        )

    # -- inputs file ----------------------------------------------------------------------

    def _load_rows(self, file: Path) -> np.ndarray:
        try:
            rows = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {str(file)!r} as a .npy array: {exc}", field="inputs") from None
        if rows.ndim < 1 or len(rows) == 0:
            raise ConfigError(f"{file.name} must hold one or more rows (shape [N, ...]), got {list(rows.shape)}", field="inputs")
        if rows.dtype.kind not in "biuf":
            raise ConfigError(f"{file.name} holds {rows.dtype} values; it must be numeric", field="inputs")
        want = self.input.item_shape
        got = rows.shape[1:]
        if len(want) != len(got) or any(isinstance(w, int) and w != g for w, g in zip(want, got)):
            raise ConfigError(
                f"{file.name} rows have shape {list(got)}; input {self.input.name!r} takes {_show(self.input.shape)}",
                field="inputs",
            )
        self._rows_source = file.name
        return np.ascontiguousarray(rows.astype(self.input.dtype, copy=False))


def _resolve(path: Any, base_dir: str | os.PathLike[str] | None, *, field: str, suffix: str) -> Path:
    """``path`` relative to ``base_dir`` (the preset's folder), checked to be an existing ``suffix`` file."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ConfigError(f"must be the path of a {suffix} file, got {path!r}", field=field)
    file = Path(os.fspath(path)).expanduser()
    if not file.is_absolute() and base_dir is not None:
        file = Path(base_dir) / file
    if file.suffix != suffix:
        raise ConfigError(f"must be a {suffix} file, got {str(file)!r}", field=field)
    if not file.is_file():
        raise ConfigError(f"no such file: {str(file)!r}", field=field)
    return file.resolve()


def _show(shape: Sequence[int | str | None]) -> str:
    """``[batch, 512]``: symbolic dimensions by name, unnamed ones as ``?``."""
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _digest(data: bytes) -> str:
    import hashlib

    return hashlib.blake2b(data, digest_size=6).hexdigest()
