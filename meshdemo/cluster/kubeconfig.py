"""Keep a run's Kubernetes credentials private to the run.

Every run sets ``KUBECONFIG`` to a file under the project's run directory, so nothing a step
does (``kind create cluster`` adds a context, ``kubectl config use-context`` switches one) ever
touches ``~/.kube/config``.

* Default: ``<run_dir>/kubeconfig``, kept between runs so a second run reaches the kind cluster
  the first one created. It is not created in advance: kind writes it (with its lock file next
  to it) when it creates the cluster, and kubectl treats a missing file as an empty config.
* ``--kubeconfig FILE --context NAME`` (an existing cluster): a private copy holding only that
  context, its cluster and its user, with every referenced file inlined (flattened), so the
  run cannot reach, switch to, or modify any other context of FILE.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from meshdemo.captures import write_atomically
from meshdemo.errors import ConfigError

DEFAULT_NAME = "kubeconfig"
EXISTING_NAME = "kubeconfig-existing"

# file references in a kubeconfig and the inline field that replaces each when flattening
_FILE_FIELDS = {
    "certificate-authority": "certificate-authority-data",
    "client-certificate": "client-certificate-data",
    "client-key": "client-key-data",
}


def default_kubeconfig(run_dir: Path) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir / DEFAULT_NAME


def _named(entries: Any, name: str) -> dict[str, Any] | None:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


def _flatten(section: dict[str, Any], base: Path, source: Path) -> dict[str, Any]:
    flat = dict(section)
    for field, inline in _FILE_FIELDS.items():
        ref = flat.pop(field, None)
        if ref and not flat.get(inline):
            path = Path(os.path.expanduser(str(ref)))
            path = path if path.is_absolute() else base / path
            try:
                data = path.read_bytes()
            except OSError as error:
                raise ConfigError(f"cannot read {field} {path}: {error.strerror}", source) from None
            flat[inline] = base64.b64encode(data).decode()
    token_file = flat.get("tokenFile")
    if token_file and not Path(token_file).is_absolute():
        flat["tokenFile"] = str(base / token_file)
    return flat


def extract_context(kubeconfig: Path | str, context: str) -> dict[str, Any]:
    """A kubeconfig document holding only ``context`` of ``kubeconfig``, flattened."""
    import yaml  # only a run given --kubeconfig reads one (yaml costs every run ~15 ms)

    source = Path(kubeconfig).expanduser()
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("kubeconfig not found", source) from None
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read kubeconfig: {error}", source) from None
    if not isinstance(document, dict):
        raise ConfigError("not a kubeconfig (expected a mapping)", source)
    entry = _named(document.get("contexts"), context)
    if entry is None:
        known = [c.get("name") for c in document.get("contexts") or [] if isinstance(c, dict)]
        listing = ", ".join(str(k) for k in known) or "none"
        raise ConfigError(
            f"no context {context!r} in this kubeconfig (contexts: {listing})", source
        )
    details = entry.get("context") or {}
    base = source.resolve().parent
    result: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "current-context": context,
        "contexts": [{"name": context, "context": dict(details)}],
        "clusters": [],
        "users": [],
    }
    cluster_name = details.get("cluster")
    cluster = _named(document.get("clusters"), cluster_name) if cluster_name else None
    if cluster is None:
        raise ConfigError(
            f"context {context!r} names a cluster {cluster_name!r} not defined", source
        )
    result["clusters"].append(
        {"name": cluster_name, "cluster": _flatten(cluster.get("cluster") or {}, base, source)}
    )
    user_name = details.get("user")
    if user_name:
        user = _named(document.get("users"), user_name)
        if user is None:
            raise ConfigError(f"context {context!r} names a user {user_name!r} not defined", source)
        result["users"].append(
            {"name": user_name, "user": _flatten(user.get("user") or {}, base, source)}
        )
    return result


def private_kubeconfig(run_dir: Path, kubeconfig: Path | str | None, context: str | None) -> Path:
    """The KUBECONFIG of a run (see the module doc); bad options raise ConfigError."""
    if kubeconfig is None:
        if context is not None:
            raise ConfigError("--context needs --kubeconfig (the file that defines the context)")
        return default_kubeconfig(run_dir)
    if not context:
        raise ConfigError(
            "--kubeconfig needs --context: name the one context of "
            f"{kubeconfig} the run may use (meshdemo never guesses a cluster to work on)"
        )
    import yaml

    document = extract_context(kubeconfig, context)
    target = run_dir / EXISTING_NAME
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(
        target, yaml.safe_dump(document, sort_keys=False).encode(), mode=0o600, sync=True
    )
    return target
