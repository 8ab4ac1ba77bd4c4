"""User models: a function in the user's own file, named ``module:function`` or by path.

The function takes a list of inputs and returns a list of outputs of the same length (it
may be ``async def``).  Inputs for a key are float32 vectors of ``input_dim`` values unless
the module also defines ``make_input(key)``.

Where a user's module is found, so that a model next to a preset "just works" without
``PYTHONPATH``:

* ``target = "mymodel:predict"``: the top-level module (``mymodel.py`` or a ``mymodel/``
  package) is looked for in ``search_dirs`` (the preset file's folder), then in the
  current directory, then on the normal import path (installed packages).  The first
  folder that holds it is put in front of ``sys.path`` *while the module is imported*
  (so its own top-level imports of sibling files work) and taken off again afterwards, so
  a user's folder never shadows other modules later in the process.
* ``path = "./mymodel.py"`` (with ``function``, default ``predict``): that file, relative
  to the preset file's folder (or the current directory when there is no preset file).

A module of the same name imported earlier from a *different* folder by this loader is
replaced (two presets may each have their own ``mymodel.py``); one imported by anything
else (``json``, ``numpy``) is never touched: the user is told to rename the file.
Anything that goes wrong is a :class:`ConfigError` naming the field and the reason; a
module that raises while being imported is reported with the exception and the line of
the user's file where it happened.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..engine.errors import BackendError, ConfigError
from .inputs import InputBank

#: the function a ``path`` model calls unless ``function`` names another
DEFAULT_FUNCTION = "predict"

#: top-level module names this loader imported from a user folder -> that folder
_LOADED_FROM: dict[str, Path] = {}


class FunctionModel:
    """Wraps a batch function so the engine can serve it like any model."""

    def __init__(
        self,
        fn: Callable[[list[Any]], Any],
        *,
        name: str | None = None,
        input_dim: int = 16,
        make_input: Callable[[int], Any] | None = None,
    ) -> None:
        self._fn = fn
        qualname: str = getattr(fn, "__qualname__", "function")
        self.name = name or qualname
        self.input_dim = input_dim
        self._make_input = make_input
        self._inputs: InputBank | None = None
        if inspect.iscoroutinefunction(fn):
            # an async function makes an async predict, which the engine awaits on its loop
            # (it checks iscoroutinefunction(model.predict)); the Model protocol spells the sync one
            self.predict = self._predict_async  # type: ignore[method-assign,assignment]

    def predict(self, batch: Sequence[Any]) -> Sequence[Any]:
        return self._check(batch, self._fn(list(batch)))

    async def _predict_async(self, batch: Sequence[Any]) -> Sequence[Any]:
        return self._check(batch, await self._fn(list(batch)))

    def _check(self, batch: Sequence[Any], outputs: Any) -> Sequence[Any]:
        """One output per input, or a ``BadOutput`` error the user can act on.

        A ``BackendError`` (not a ``ValueError``) so the engine does not split the batch
        to isolate a "poison" input: a wrong count is the function's fault, not an input's.
        """
        try:
            outputs = list(outputs)
        except TypeError:
            raise BackendError(
                f"model {self.name} returned {type(outputs).__name__} for a batch of {len(batch)}; "
                "it must return a list with one output per input",
                kind="BadOutput",
            ) from None
        if len(outputs) != len(batch):
            raise BackendError(
                f"model {self.name} returned {len(outputs)} outputs for a batch of {len(batch)} "
                "(it must return one output per input, in order)",
                kind="BadOutput",
            )
        return outputs

    def make_input(self, key: int) -> Any:
        if self._make_input is not None:
            return self._make_input(key)
        if self._inputs is None:
            self._inputs = InputBank(self.input_dim)
        return self._inputs.payload(key)

    def describe(self) -> str:
        return f"user function {self.name}"


def load_function_model(
    target: str | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    function: str | None = None,
    input_dim: int = 16,
    search_dirs: Iterable[str | os.PathLike[str]] = (),
) -> FunctionModel:
    """Import the user's function and wrap it; see the module doc for where it is looked for.

    Exactly one of ``target`` (``module:function``) and ``path`` (a ``.py`` file, relative
    to the first of ``search_dirs``) must be given.  Errors name the field (``target``,
    ``path``, ``function``) and the reason.
    """
    dirs = [Path(d) for d in search_dirs]
    if (target is None) == (path is None):
        raise ConfigError("give one of model.target = \"module:function\" or model.path = \"file.py\"", field="target")
    if target is not None:
        if function is not None:
            raise ConfigError("function is only used with model.path (a target names it after the colon)", field="function")
        if not isinstance(target, str):
            raise ConfigError(f"model target must be a string like mymodel:predict, got {target!r}", field="target")
        module_name, sep, attr = target.partition(":")
        if not sep or not module_name or not attr:
            raise ConfigError(f"model target must look like package.module:function, got {target!r}", field="target")
        module = _import_module(module_name, [*dirs, *_cwd()])
        field, name = "target", target
    else:
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ConfigError(f"must be the path of a .py file, got {path!r}", field="path")
        attr = DEFAULT_FUNCTION if function is None else function
        if not isinstance(attr, str) or not attr.isidentifier():
            raise ConfigError(f"must be a function name, got {attr!r}", field="function")
        file = Path(os.fspath(path)).expanduser()
        if not file.is_absolute():
            file = (dirs[0] if dirs else Path(".")) / file
        module = _import_file(file)
        field, name = "function" if function is not None else "path", f"{file.stem}:{attr}"
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        where = getattr(module, "__file__", None) or module.__name__
        raise ConfigError(f"module {module.__name__!r} ({where}) has no callable {attr!r}", field=field)
    make_input = getattr(module, "make_input", None)
    return FunctionModel(fn, name=name, input_dim=input_dim, make_input=make_input if callable(make_input) else None)


def _cwd() -> list[Path]:
    """The current directory, or nothing if it was removed under us."""
    try:
        return [Path.cwd()]
    except OSError:
        return []


def _import_module(module_name: str, dirs: Sequence[Path]) -> Any:
    """Import ``module_name``, looking in ``dirs`` before the normal import path."""
    top = module_name.partition(".")[0]
    home = next((d for d in dirs if (d / f"{top}.py").is_file() or (d / top / "__init__.py").is_file()), None)
    if home is not None:
        home = home.resolve()
        _forget_if_elsewhere(top, home, field="target")
    try:
        return _with_path(home, lambda: importlib.import_module(module_name))
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if home is None and (missing == module_name or module_name.startswith(missing + ".")) and missing:
            looked = ", ".join(str(d) for d in dict.fromkeys(dirs))
            raise ConfigError(
                f"cannot import model module {module_name!r}: no {top}.py in {looked} "
                "and no installed module of that name",
                field="target",
            ) from None
        raise ConfigError(f"cannot import model module {module_name!r}: {_describe(exc)}", field="target") from None
    except Exception as exc:  # the user's module raised while being imported
        raise ConfigError(f"cannot import model module {module_name!r}: {_describe(exc)}", field="target") from None


def _import_file(file: Path) -> Any:
    """Import one ``.py`` file as a module named after it (its folder is importable meanwhile)."""
    if file.suffix != ".py":
        raise ConfigError(f"must be a .py file, got {str(file)!r}", field="path")
    if not file.is_file():
        raise ConfigError(f"no such file: {str(file)!r}", field="path")
    file = file.resolve()
    name = file.stem
    if not name.isidentifier():
        raise ConfigError(f"{file.name!r} is not a Python module name (use letters, digits and _)", field="path")
    _forget_if_elsewhere(name, file.parent, field="path")
    try:
        return _with_path(file.parent, lambda: importlib.import_module(name))
    except Exception as exc:
        raise ConfigError(f"cannot import {str(file)!r}: {_describe(exc)}", field="path") from None


def _forget_if_elsewhere(top: str, home: Path, *, field: str) -> None:
    """Make room for ``top`` from ``home``: drop our own earlier import of it from another folder."""
    existing = sys.modules.get(top)
    if existing is None:
        return
    origin = getattr(existing, "__file__", None)
    if origin is not None and Path(origin).resolve().parent in (home, home / top):
        return  # already imported from this very folder: reuse it
    if _LOADED_FROM.get(top) is None:
        raise ConfigError(
            f"{top!r} is already the name of another module ({origin or 'built in'}); rename the model file",
            field=field,
        )
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[name]


def _with_path(home: Path | None, load: Callable[[], Any]) -> Any:
    """Run ``load`` with ``home`` first on ``sys.path`` (and remember what came from there)."""
    importlib.invalidate_caches()  # the file may be newer than the import system's directory cache
    if home is None:
        return load()
    entry = str(home)
    sys.path.insert(0, entry)
    try:
        module = load()
    finally:
        try:
            sys.path.remove(entry)
        except ValueError:  # pragma: no cover - the module removed it itself
            pass
    _LOADED_FROM[module.__name__.partition(".")[0]] = home
    return module


def _describe(exc: BaseException) -> str:
    """``SyntaxError: invalid syntax (mymodel.py:3)``: the error and where in the user's file."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{type(exc).__name__}: {exc.msg} ({Path(exc.filename).name}:{exc.lineno})"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "importlib" not in f.filename]
    if frames:
        last = frames[-1]
        text += f" ({Path(last.filename).name}:{last.lineno} in {last.name})"
    return text
