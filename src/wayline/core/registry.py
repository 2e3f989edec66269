"""Name -> function tables for workflows and activities."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from wayline.core.typed import convert, input_type

# The attribute dapr-ext-workflow uses for a function's registered name; reusing
# it lets code decorated with either library resolve the same names.
NAME_ATTRIBUTE = "_dapr_alternate_name"


def name_of(fn_or_name: Callable[..., Any] | str) -> str:
    """The registered name of a workflow or activity given as a function or a name."""
    if isinstance(fn_or_name, str):
        if not fn_or_name:
            raise ValueError("a workflow or activity name must not be empty")
        return fn_or_name
    name = getattr(fn_or_name, NAME_ATTRIBUTE, None) or getattr(fn_or_name, "__name__", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{fn_or_name!r} is neither a function nor a name")
    return name


def accepts_input(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` takes an input after the context (``fn(ctx, input)``)."""
    try:
        return _accepts_input_cached(fn)
    except TypeError:  # an unhashable callable
        return _accepts_input(fn)


# Asked on every activity call and workflow start: inspecting a signature is slow.
@functools.lru_cache(maxsize=4096)
def _accepts_input_cached(fn: Callable[..., Any]) -> bool:
    return _accepts_input(fn)


def _accepts_input(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in positional)


def call_with_input(fn: Callable[..., Any], ctx: Any, value: Any) -> Any:
    """Call ``fn(ctx, value)``, or ``fn(ctx)`` when it declares no input parameter;
    ``value`` decoded into the input's annotated type (``PayloadTypeError`` if it
    does not fit: see ``core.typed``)."""
    if accepts_input(fn):
        expected = input_type(fn)
        return fn(ctx, value if expected is None else convert(value, expected))
    return fn(ctx)


@dataclass
class VersionedWorkflow:
    """The registered versions of one workflow name (Dapr 1.17 named versions).

    A new instance runs the latest version; an instance keeps the version it
    started with (recorded in its history) for its whole run.
    """

    name: str
    versions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    latest: str | None = None

    def resolve(self, version: str | None) -> tuple[Callable[..., Any], str] | None:
        """The function of ``version`` (None: the latest) and that version's name;
        None when it is not registered here."""
        chosen = version or self.latest
        if chosen is None or chosen not in self.versions:
            return None
        return self.versions[chosen], chosen


#: A registered workflow: a function, or the versions of one name.
Workflow = Callable[..., Any] | VersionedWorkflow


@dataclass
class Registry:
    """The workflows and activities one runtime can execute, by name."""

    workflows: dict[str, Workflow] = field(default_factory=dict)
    activities: dict[str, Callable[..., Any]] = field(default_factory=dict)

    def add_workflow(self, fn: Callable[..., Any], name: str | None = None) -> str:
        if name is not None and isinstance(self.workflows.get(name), VersionedWorkflow):
            raise ValueError(f"workflow {name!r} is registered with versions already")
        return self._add(self.workflows, "workflow", fn, name)  # type: ignore[arg-type]

    def add_versioned_workflow(
        self,
        fn: Callable[..., Any],
        *,
        name: str,
        version_name: str | None = None,
        is_latest: bool = False,
    ) -> str:
        """Register ``fn`` as one version of workflow ``name`` (default version name:
        the function's name); ``is_latest`` makes new instances run it."""
        if not callable(fn):
            raise TypeError(f"register_versioned_workflow needs a function, got {fn!r}")
        if not name:
            raise ValueError("a versioned workflow needs a name")
        version = version_name if version_name is not None else fn.__name__
        versions = self.workflows.setdefault(name, VersionedWorkflow(name))
        if not isinstance(versions, VersionedWorkflow):
            raise ValueError(f"workflow {name!r} is registered without versions already")
        if version in versions.versions:
            raise ValueError(f"version {version!r} of workflow {name!r} is already registered")
        versions.versions[version] = fn
        if is_latest:
            versions.latest = version
        with contextlib.suppress(AttributeError, TypeError):
            setattr(fn, NAME_ATTRIBUTE, name)
        return name

    def add_activity(self, fn: Callable[..., Any], name: str | None = None) -> str:
        return self._add(self.activities, "activity", fn, name)

    @staticmethod
    def _add(
        table: dict[str, Callable[..., Any]],
        kind: str,
        fn: Callable[..., Any],
        name: str | None,
    ) -> str:
        if not callable(fn):
            raise TypeError(f"register_{kind} needs a function, got {fn!r}")
        existing = getattr(fn, NAME_ATTRIBUTE, None)
        if name is not None and existing is not None and existing != name:
            raise ValueError(f"{kind} {fn.__name__} already has the name {existing!r}")
        effective = name or existing or fn.__name__
        if effective in table:
            raise ValueError(
                f"{kind} {effective!r} is already registered; give one of them "
                "another name with name=..."
            )
        table[effective] = fn
        # Builtins and some callables take no attributes; the name still resolves.
        with contextlib.suppress(AttributeError, TypeError):
            setattr(fn, NAME_ATTRIBUTE, effective)
        return effective
