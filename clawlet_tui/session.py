"""One builder from a preset to the objects a run needs: model, engine, load generator.

``clawlet-tui run`` and ``compare`` (:mod:`.runner`), the dashboard
(:meth:`~clawlet_tui.tui.live.LiveRun.from_preset`) and ``serve`` (which takes only the
config: the server builds its own engine) all go through here, so a preset plus the
user's overrides means the same thing everywhere:

* the config is the preset's ``[engine]`` table with the ``--set`` values applied
  (:func:`resolve_config`); a bad value is a :class:`ConfigError` whose source is
  ``--set``; the baseline side of a comparison switches the optimizations off and keeps
  every other limit;
* ``--duration`` replaces the load's ``duration_s``;
* ``--backend`` (or the preset's ``backend_url``) runs the model on a remote Open
  Inference Protocol server; several (``--backend`` repeated, or ``backend_urls``) on a
  :class:`~clawlet_tui.remote.balancer.BalancedBackend` over all of them; otherwise the
  preset's ``[model]`` table is built here;
* unless the config names an ``l2_cache_dir`` (or ``fresh_l2`` asks for an empty one),
  the L2 disk cache lives in a temporary ``clawlet-l2-*`` directory that
  :meth:`Session.close` removes, so no earlier run's disk cache flatters this one.

Building starts nothing: no task runs and no connection opens until the caller starts the
engine and the generator.  If building fails, the temporary directory is already gone
when the error propagates.  The builders of the engine, the generator and the model are
injectable, so the dashboard's tests can pass stand-ins.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

from .engine.config import OptimizationConfig

if TYPE_CHECKING:  # pragma: no cover
    from .load import LoadProfile, Preset
    from .models.base import ModelInfo
    from .remote.balancer import BalancedBackend
    from .remote.client import RemoteBackend

#: the two sides of a comparison
MODES = ("optimized", "baseline")

#: ``(config, model) -> engine``
EngineFactory = Callable[[OptimizationConfig, "ModelInfo"], Any]
#: ``(engine, profile, model) -> load generator``
GeneratorFactory = Callable[[Any, Any, "ModelInfo"], Any]
#: ``(model spec, source) -> model``
ModelBuilder = Callable[[Mapping[str, Any] | None, str | None], "ModelInfo"]

L2_PREFIX = "clawlet-l2-"


@dataclass
class Session:
    """What :func:`build_session` made; the caller starts and stops engine and generator,
    then calls :meth:`close` (or uses the session as a context manager)."""

    preset: Any
    #: "optimized" or "baseline"
    mode: str
    #: the config the engine was built with (overrides, baseline switches, L2 dir applied)
    config: OptimizationConfig
    #: the load that runs (after any duration override)
    profile: LoadProfile
    model: ModelInfo
    engine: Any
    generator: Any
    #: how to build another engine for this session's model (the dashboard's preset switch)
    engine_factory: EngineFactory
    #: the remote backend the engine runs batches on, None in process
    backend: RemoteBackend | BalancedBackend | None = None
    #: the temporary L2 directory this session made, None if the config names its own;
    #: a caller that keeps the engine past the session (the dashboard's LiveRun) takes it
    #: over and removes it itself
    l2_dir: str | None = None

    def close(self) -> None:
        """Remove the temporary L2 directory (if any).  Idempotent; call after the engine stopped."""
        if self.l2_dir is not None:
            shutil.rmtree(self.l2_dir, ignore_errors=True)
            self.l2_dir = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_config(
    preset: Preset, overrides: Mapping[str, Any] | None = None, mode: str = "optimized"
) -> OptimizationConfig:
    """The config a run uses: the preset's with ``overrides`` applied; for ``baseline``
    the seed's "before" (no batching, no cache, one at a time) with the preset's other fields.

    Raises :class:`ConfigError` (source ``--set``) for an unknown field or a bad value.
    """
    if mode not in MODES:
        from .engine.errors import ConfigError

        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}", field="mode")
    config: OptimizationConfig = preset.config
    if overrides:
        config = OptimizationConfig.from_mapping(overrides, base=config, source="--set")
    if mode == "baseline":
        config = config.as_baseline()
    return config


def build_session(
    preset: Preset,
    *,
    overrides: Mapping[str, Any] | None = None,
    mode: str = "optimized",
    duration_s: float | None = None,
    backend_url: str | Sequence[str] | None = None,
    model_name: str | None = None,
    fresh_l2: bool = False,
    engine_factory: EngineFactory | None = None,
    generator_factory: GeneratorFactory | None = None,
    model_builder: ModelBuilder | None = None,
) -> Session:
    """Model, engine and load generator for ``preset``; see the module doc.

    ``backend_url`` (one URL or several) / ``model_name`` default to the preset's
    ``backend_url`` or ``backend_urls`` / ``backend_model``; with a backend, ``engine_factory`` and ``model_builder`` are not
    used (the engine runs its batches on the server).  ``model_builder`` None builds the
    preset's ``[model]`` table next to the preset file.
    """
    config = resolve_config(preset, overrides, mode)
    profile = preset.load if duration_s is None else dataclasses.replace(preset.load, duration_s=duration_s)
    urls = backend_urls(preset, backend_url)
    model_name = model_name or getattr(preset, "backend_model", None)
    l2_dir = tempfile.mkdtemp(prefix=L2_PREFIX) if fresh_l2 or config.l2_cache_dir is None else None
    try:
        if l2_dir is not None:
            config = config.replace(l2_cache_dir=l2_dir)
        backend = None
        model: ModelInfo
        if urls:
            # the model runs on the server(s); batching, cache and metrics stay here
            backend = remote_backend(urls, model_name, config.effective_pool_size)
            model = backend.model_info
            engine_factory = remote_engine_factory(backend, mode)
        else:
            model = _build_model(preset, model_builder)
            engine_factory = engine_factory or _local_engine_factory(mode)
        engine = engine_factory(config, model)
        generator = (generator_factory or _default_generator_factory)(engine, profile, model)
    except BaseException:
        if l2_dir is not None:
            shutil.rmtree(l2_dir, ignore_errors=True)
        raise
    return Session(
        preset=preset,
        mode=mode,
        config=config,
        profile=profile,
        model=model,
        engine=engine,
        generator=generator,
        engine_factory=engine_factory,
        backend=backend,
        l2_dir=l2_dir,
    )


def backend_urls(preset: Any, given: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """The model servers a run uses: ``given`` (``--backend``, repeatable), else the
    preset's ``backend_urls`` or ``backend_url``; empty: the model runs in process."""
    if isinstance(given, str):
        return (given,)
    if given:
        return tuple(given)
    many = tuple(getattr(preset, "backend_urls", ()) or ())
    one = getattr(preset, "backend_url", None)
    return many or ((one,) if one else ())


def remote_backend(urls: Sequence[str], model_name: str | None, pool_size: int) -> RemoteBackend | BalancedBackend:
    """One server: a :class:`RemoteBackend`; several: a :class:`BalancedBackend` over them
    (``pool_size`` is then the in-flight bound of each server)."""
    if len(urls) == 1:
        from .remote.client import RemoteBackend

        return RemoteBackend(urls[0], model_name, max_connections=pool_size)
    from .remote.balancer import BalancedBackend

    return BalancedBackend(urls, model_name, max_connections=pool_size)


def remote_engine_factory(backend: RemoteBackend | BalancedBackend, mode: str = "optimized") -> EngineFactory:
    """An engine factory whose engines run batches on ``backend`` (the model argument is ignored).

    A balanced backend reports ejections and re-admissions in the newest engine's event log.
    """

    def factory(config: OptimizationConfig, model: ModelInfo) -> Any:
        from .engine.engine import ClawletEngine

        engine = ClawletEngine(config=config, model=backend.model_info, mode=mode, backend=backend)
        if hasattr(backend, "on_event"):
            backend.on_event = engine.log_event
        return engine

    return factory


def _local_engine_factory(mode: str) -> EngineFactory:
    def factory(config: OptimizationConfig, model: ModelInfo) -> Any:
        from .engine.engine import ClawletEngine

        return ClawletEngine(config=config, model=model, mode=mode)

    return factory


def _default_generator_factory(engine: Any, profile: Any, model: ModelInfo) -> Any:
    from .load import LoadGenerator

    return LoadGenerator(engine, profile, model=model)


def _build_model(preset: Preset, model_builder: ModelBuilder | None) -> ModelInfo:
    source = str(getattr(preset, "path", None) or preset.name)
    if model_builder is not None:
        return model_builder(getattr(preset, "model_spec", None), source)
    if hasattr(preset, "build_model"):
        return preset.build_model()  # a fresh model, its user files looked up next to the preset
    from .models import build_model

    return build_model(preset.model_spec, source=source)


__all__ = [
    "MODES",
    "EngineFactory",
    "GeneratorFactory",
    "ModelBuilder",
    "Session",
    "backend_urls",
    "build_session",
    "remote_backend",
    "remote_engine_factory",
    "resolve_config",
]
