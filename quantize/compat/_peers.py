"""The peers (scikit-learn, scipy, OpenCV), loaded only when present and needed.

The drop-ins depend on numpy alone. Where a peer's callers rely on the
peer's own classes (``except sklearn.exceptions.NotFittedError``,
``except cv2.error``, a ``ConvergenceWarning`` filter) or where the peer
calls back into the drop-in (``__sklearn_tags__``), the peer is loaded here,
lazily, and only if it is installed: :func:`optional` is the one place that
imports a peer, by name, with :func:`importlib.import_module`.

:func:`peer_class` makes an exception or warning class that is both ours and
the peer's. It keeps our class's name and module (tracebacks read as ours),
and every ``except``/``isinstance``/warning filter that matches our class
still matches. Without the peer it is our class itself.
"""

from __future__ import annotations

import importlib
import sys
import threading

__all__ = ["optional", "loaded", "peer_class"]

_LOCK = threading.Lock()
_BUILT: dict = {}
_MISSING = object()
_MODULES: dict = {}


def optional(name: str):
    """The module ``name`` if it can be imported, else None (remembered)."""
    module = _MODULES.get(name)
    if module is None:
        try:
            module = importlib.import_module(name)
        except Exception:  # not installed, or broken: the peer is absent
            module = _MISSING
        _MODULES[name] = module
    return None if module is _MISSING else module


def loaded(name: str):
    """The module ``name`` if something already imported it, else None (never imports)."""
    return sys.modules.get(name)


def peer_class(ours: type, module: str, attr: str) -> type:
    """A subclass of ``ours`` and of ``module.attr``, or ``ours`` without that peer.

    Built once per process. Its instances pickle through :func:`_rebuild`,
    so that a process without the peer unpickles them as ``ours``.
    """
    key = (ours, module, attr)
    cls = _BUILT.get(key)
    if cls is not None:
        return cls
    peer_module = optional(module)
    peer = getattr(peer_module, attr, None) if peer_module is not None else None
    if not isinstance(peer, type) or issubclass(ours, peer):
        cls = ours
    else:
        try:
            cls = type(ours.__name__, (ours, peer), {
                "__module__": ours.__module__,
                "__qualname__": ours.__qualname__,
                "__doc__": f"{ours.__doc__ or ours.__name__}\n\n"
                           f"Also a ``{module}.{attr}`` (built as that is installed).",
                "__reduce__": _reduce,
                "_quantize_peer": key,
            })
        except TypeError:  # incompatible layouts: keep ours
            cls = ours
    with _LOCK:
        return _BUILT.setdefault(key, cls)


def _reduce(self):
    state = self.__dict__ or None
    return _rebuild, (*self._quantize_peer, self.args), state


def _rebuild(ours, module, attr, args):
    return peer_class(ours, module, attr)(*args)
