"""Test doubles of the cluster tools the guide calls: kind, kubectl, linkerd, curl, docker.

NOT the real tools. They exist so the whole guide can be rehearsed on a machine that cannot
run Kubernetes: each double records how it was called, prints a plausible minimal answer,
and behaves like the real tool in the shapes the guide relies on:

* ``kind create cluster`` writes a context into the kubeconfig the real kind would write to
  (``--kubeconfig``, else the first file of ``$KUBECONFIG``, else ``~/.kube/config``) and
  fails when the cluster already exists; ``kind export kubeconfig`` writes it again.
* ``kubectl`` refuses to talk to a cluster unless its kubeconfig names one that kind made,
  reads ``-f -`` from standard input (and fails on empty input, as the real one does),
  rejects ``version --short`` (gone since 1.28).
* ``linkerd`` is not on PATH: the install script that ``curl .../install-edge`` prints
  installs it into ``~/.linkerd2/bin``, so the guide's PATH change matters. ``install`` needs
  the CRDs applied first, ``check --pre`` needs the Gateway API CRDs, ``viz`` commands need
  viz applied; ``viz dashboard`` serves a small HTTP page (Host: localhost only) and blocks
  until killed; ``viz tap`` and ``viz top`` stream until killed.
* ``curl`` prints the install script and the Books manifest, and fetches loopback URLs.

Every call appends a JSON line to ``$MESHDEMO_DOUBLES_LOG`` (events ``start``, ``signal``,
``exit``, ``stdin``); the simulated cluster lives in ``$MESHDEMO_DOUBLES_STATE`` (default: a
``state`` folder beside the log). ``MESHDEMO_DOUBLES_FAIL="linkerd install --crds"`` makes
the calls whose words start with that text fail (several switches separated by ``;``).
"""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import json
import os
import re
import shlex
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

try:  # the doubles run with the project's Python, which has PyYAML; JSON is valid YAML too
    import yaml
except ImportError:  # pragma: no cover
    yaml = None  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent
KIND_VERSION = os.environ.get("MESHDEMO_DOUBLE_KIND_VERSION", "v0.33.0")
NODE_VERSION = "v1.35.8"
KUBECTL_VERSION = os.environ.get("MESHDEMO_DOUBLE_KUBECTL_VERSION", "v1.35.8")
DEFAULT_LINKERD = "edge-26.8.3"
BOOKS = ("webapp", "authors", "books", "traffic")
DOUBLE_MARK = "meshdemo.test/double"  # annotation on every manifest a double prints

# ---------------------------------------------------------------------------------- recording


def log_path() -> Path | None:
    value = os.environ.get("MESHDEMO_DOUBLES_LOG")
    return Path(value) if value else None


def record(tool: str, event: str, **data: object) -> None:
    path = log_path()
    if path is None:
        return
    entry = {
        "tool": tool,
        "event": event,
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "time": time.time(),
        **data,
    }
    line = json.dumps(entry) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line)


def state_dir() -> Path:
    value = os.environ.get("MESHDEMO_DOUBLES_STATE")
    if value:
        path = Path(value)
    elif log_path() is not None:
        path = log_path().parent / "state"  # type: ignore[union-attr]
    else:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / "meshdemo-doubles-state"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def cluster_state() -> Iterator[dict]:
    """The simulated cluster, read and written under a lock (tools of a pipe run at once)."""
    path = state_dir() / "cluster.json"
    with open(state_dir() / "cluster.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            state = {}
        state.setdefault("clusters", {})
        state.setdefault("applied", [])  # what kubectl apply received: marks and URLs
        state.setdefault("namespaces", ["default", "kube-system"])
        state.setdefault("annotations", [])
        yield state
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, path)


def failure_switch(tool: str, args: list[str], late: bool = False) -> str | None:
    """The MESHDEMO_DOUBLES_FAIL entry matching this call, if any. An entry starting with
    ``late:`` fails the call only after it printed its normal output (a crash half-way)."""
    words = [tool, *args]
    for switch in os.environ.get("MESHDEMO_DOUBLES_FAIL", "").split(";"):
        switch = switch.strip()
        is_late = switch.startswith("late:")
        wanted = shlex.split(switch.removeprefix("late:"))
        if is_late == late and wanted and words[: len(wanted)] == wanted:
            return switch
    return None


def die(message: str, status: int = 1) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(status)


def block_until_signalled(tool: str, every: float | None = None, line: str = "") -> None:
    """Run until SIGTERM/SIGINT/SIGHUP, like a port-forward or a stream; print `line` each tick."""

    def stop(signum: int, _frame: object) -> None:
        record(tool, "signal", signal=signal.Signals(signum).name)
        sys.stdout.flush()
        os._exit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    count = 0
    while True:
        if every is None:
            signal.pause()
        else:
            count += 1
            print(line.format(n=count), flush=True)
            time.sleep(every)


# --------------------------------------------------------------------------------- kubeconfig


def load_yaml_text(text: str) -> object:
    if yaml is not None:
        return yaml.safe_load(text)
    return json.loads(text)


def kubeconfig_target(explicit: str | None = None) -> Path:
    """The file kind and kubectl use: the flag, else the first of $KUBECONFIG, else ~/.kube."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), None)
    if first:
        return Path(first)
    return Path(os.path.expanduser("~")) / ".kube" / "config"


def read_kubeconfig(path: Path) -> dict:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    data = load_yaml_text(text) if text.strip() else {}
    return data if isinstance(data, dict) else {}


def write_kubeconfig(path: Path, config: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    config.setdefault("apiVersion", "v1")
    config.setdefault("kind", "Config")
    path.write_text(json.dumps(config, indent=1) + "\n")
    path.chmod(0o600)


def add_kind_context(path: Path, name: str) -> str:
    context = f"kind-{name}"
    config = read_kubeconfig(path)
    for key, entry in (
        (
            "clusters",
            {
                "name": context,
                "cluster": {
                    "server": os.environ.get(
                        "MESHDEMO_DOUBLES_API_SERVER", "https://127.0.0.1:6443"
                    )
                },
            },
        ),
        ("users", {"name": context, "user": {"token": "double"}}),
        ("contexts", {"name": context, "context": {"cluster": context, "user": context}}),
    ):
        items = [i for i in config.get(key) or [] if i.get("name") != context]
        config[key] = [*items, entry]
    config["current-context"] = context
    write_kubeconfig(path, config)
    return context


def remove_kind_context(path: Path, name: str) -> None:
    context = f"kind-{name}"
    config = read_kubeconfig(path)
    if not config:
        return
    for key in ("clusters", "users", "contexts"):
        config[key] = [i for i in config.get(key) or [] if i.get("name") != context]
    if config.get("current-context") == context:
        config["current-context"] = ""
    write_kubeconfig(path, config)


def connected_cluster(tool: str, kubeconfig: str | None, context: str | None) -> str:
    """The kind cluster the kubeconfig points at; fail like the real clients when none."""
    path = kubeconfig_target(kubeconfig)
    config = read_kubeconfig(path)
    name = context or config.get("current-context") or ""
    record(tool, "kubeconfig", path=str(path), context=name)
    contexts = {c.get("name") for c in config.get("contexts") or []}
    with cluster_state() as state:
        clusters = set(state["clusters"])
    if not name or name not in contexts:
        if context:
            die(f'error: context "{context}" does not exist')
        die(
            "The connection to the server localhost:8080 was refused - did you specify the "
            "right host or port?"
        )
    if not name.startswith("kind-") or name[5:] not in clusters:
        die(
            f"Unable to connect to the server: dial tcp 127.0.0.1:6443: connect: connection "
            f"refused (context {name})"
        )
    return name[5:]


# ----------------------------------------------------------------------------------------- kind


def kind(args: list[str]) -> None:
    words = [a for a in args if not a.startswith("-")]
    opts = parse_flags(args)
    name = opts.get("--name") or "kind"
    if args[:1] == ["version"]:
        print(f"kind {KIND_VERSION} go1.25.3 linux/amd64")
    elif words[:2] == ["create", "cluster"]:
        with cluster_state() as state:
            if name in state["clusters"]:
                die(
                    f"ERROR: failed to create cluster: node(s) already exist for a cluster with "
                    f'the name "{name}"'
                )
            state["clusters"][name] = {"image": opts.get("--image"), "config": opts.get("--config")}
        image = opts.get("--image") or f"kindest/node:{NODE_VERSION}"
        print(f'Creating cluster "{name}" ...', file=sys.stderr)
        print(f" ✓ Ensuring node image ({image}) 🖼", file=sys.stderr)
        print(" ✓ Preparing nodes 📦", file=sys.stderr)
        print(" ✓ Starting control-plane 🕹️", file=sys.stderr)
        path = kubeconfig_target(opts.get("--kubeconfig"))
        context = add_kind_context(path, name)
        record("kind", "kubeconfig-written", path=str(path), context=context)
        print(f'Set kubectl context to "{context}"', file=sys.stderr)
    elif words[:2] == ["get", "clusters"]:
        with cluster_state() as state:
            names = sorted(state["clusters"])
        if not names:
            print("No kind clusters found.", file=sys.stderr)
        for cluster in names:
            print(cluster)
    elif words[:2] in (["export", "kubeconfig"], ["get", "kubeconfig"]):
        with cluster_state() as state:
            exists = name in state["clusters"]
        if not exists:
            die(f'ERROR: could not locate any control plane nodes for cluster named "{name}"')
        path = kubeconfig_target(opts.get("--kubeconfig"))
        if words[0] == "export":
            context = add_kind_context(path, name)
            record("kind", "kubeconfig-written", path=str(path), context=context)
            print(f'Set kubectl context to "{context}"', file=sys.stderr)
        else:
            print(json.dumps({"current-context": f"kind-{name}"}))
    elif words[:2] == ["delete", "cluster"]:
        print(f'Deleting cluster "{name}" ...', file=sys.stderr)
        with cluster_state() as state:
            existed = state["clusters"].pop(name, None) is not None
            if existed:
                state["applied"] = []
                state["annotations"] = []
                state["namespaces"] = ["default", "kube-system"]
        remove_kind_context(kubeconfig_target(opts.get("--kubeconfig")), name)
        if existed:
            print(f'Deleted nodes: ["{name}-control-plane"]', file=sys.stderr)
    else:
        die(f'ERROR: unknown command {" ".join(args)!r} for "kind" (test double)')


def parse_flags(args: list[str]) -> dict[str, str]:
    """--flag value and --flag=value pairs (enough for the shapes the guide uses)."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" in arg:
            key, _, value = arg.partition("=")
            found[key] = value
        elif arg.startswith("-") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            found[arg] = args[i + 1]
            i += 1
        i += 1
    return found


# -------------------------------------------------------------------------------------- kubectl

KUBECTL_VALUE_FLAGS = {
    "-n",
    "--namespace",
    "--context",
    "--kubeconfig",
    "-o",
    "--output",
    "-f",
    "--filename",
    "-l",
    "--selector",
    "--for",
    "--timeout",
    "--field-manager",
    "-p",
    "--patch",
    "--type",
    "--image",
    "--replicas",
    "-c",
    "--container",
}


def split_kubectl(
    args: list[str], value_flags: set[str] | None = None
) -> tuple[list[str], dict[str, list[str]], set[str]]:
    value_flags = KUBECTL_VALUE_FLAGS if value_flags is None else value_flags
    words: list[str] = []
    values: dict[str, list[str]] = {}
    switches: set[str] = set()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and arg != "-":
            key, eq, value = arg.partition("=")
            if eq:
                values.setdefault(key, []).append(value)
            elif key in value_flags and i + 1 < len(args):
                values.setdefault(key, []).append(args[i + 1])
                i += 1
            else:
                switches.add(key)
        else:
            words.append(arg)
        i += 1
    return words, values, switches


def read_manifests(text: str) -> list[dict]:
    if yaml is None:  # pragma: no cover
        return []
    docs: list[dict] = []
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind") == "List":
            docs.extend(i for i in doc.get("items") or [] if isinstance(i, dict))
        elif isinstance(doc, dict):
            docs.append(doc)
    return docs


def kubectl(args: list[str]) -> None:
    words, values, switches = split_kubectl(args)
    first = lambda key, default=None: (values.get(key) or [default])[-1]  # noqa: E731
    namespace = first("-n") or first("--namespace") or "default"
    output = first("-o") or first("--output")
    if words[:1] == ["version"]:
        if "--short" in switches:
            die("error: unknown flag: --short\nSee 'kubectl version --help' for usage.")
        if output == "json" and "--client" in switches:
            major, minor = KUBECTL_VERSION.lstrip("v").split(".")[:2]
            print(
                json.dumps(
                    {
                        "clientVersion": {
                            "major": major,
                            "minor": minor,
                            "gitVersion": KUBECTL_VERSION,
                        }
                    },
                    indent=2,
                )
            )
            return
        print(f"Client Version: {KUBECTL_VERSION}\nKustomize Version: v5.7.1")
        if "--client" not in switches:
            connected_cluster("kubectl", first("--kubeconfig"), first("--context"))
            print(f"Server Version: {NODE_VERSION}")
        return
    if words[:1] == ["config"]:
        path = kubeconfig_target(first("--kubeconfig"))
        config = read_kubeconfig(path)
        record("kubectl", "kubeconfig", path=str(path), context=config.get("current-context"))
        if words[1:2] == ["current-context"]:
            if not config.get("current-context"):
                die("error: current-context is not set")
            print(config["current-context"])
        elif words[1:2] == ["get-contexts"]:
            print("CURRENT   NAME   CLUSTER   AUTHINFO   NAMESPACE")
            for ctx in config.get("contexts") or []:
                mark = "*" if ctx.get("name") == config.get("current-context") else " "
                print(f"{mark}         {ctx['name']}   {ctx['name']}   {ctx['name']}")
        return
    cluster = connected_cluster("kubectl", first("--kubeconfig"), first("--context"))
    verb = words[0] if words else ""
    if verb == "apply":
        apply(
            values.get("-f", []) + values.get("--filename", []),
            namespace,
            server_side="--server-side" in switches,
        )
    elif verb == "create" and words[1:2] in (["ns"], ["namespace"]):
        name = words[2] if len(words) > 2 else die("error: exactly one NAME is required")
        if "--dry-run" in values or "--dry-run" in switches:
            print(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            return
        with cluster_state() as state:
            if name in state["namespaces"]:
                die(f'Error from server (AlreadyExists): namespaces "{name}" already exists')
            state["namespaces"].append(name)
        print(f"namespace/{name} created")
    elif verb == "wait":
        targets = words[1:] or ["nodes"]
        if targets[0] in ("node", "nodes") or "--all" in switches:
            print(f"node/{cluster}-control-plane condition met")
        else:
            for target in targets:
                # kubectl's name printer: <kind>.<group>/<name>, as `kubectl wait` prints it
                if target.startswith("crd/"):
                    target = "customresourcedefinition.apiextensions.k8s.io/" + target[4:]
                print(f"{target} condition met")
    elif verb == "rollout":
        target = "/".join(words[2:4]) if len(words) > 3 else (words[2] if len(words) > 2 else "")
        name = target.split("/")[-1]
        if words[1:2] == ["status"]:
            print(f'deployment "{name}" successfully rolled out')
        elif words[1:2] == ["restart"]:
            names = [name] if name and name not in ("deploy", "deployment") else list(BOOKS)
            for each in names:
                print(f"deployment.apps/{each} restarted")
    elif verb == "annotate":
        with cluster_state() as state:
            state["annotations"].append([w for w in words[1:]])
        print(f"{words[1] if len(words) > 1 else 'resource'} annotated")
    elif verb == "get":
        get(words[1:], namespace, output, cluster)
    elif verb == "delete" and words[1:2] in (["ns"], ["namespace"]):
        for name in words[2:]:
            with cluster_state() as state:
                if name not in state["namespaces"]:
                    if "--ignore-not-found" in switches:
                        continue
                    die(f'Error from server (NotFound): namespaces "{name}" not found')
                state["namespaces"].remove(name)
                if name not in ("linkerd", "linkerd-viz"):
                    # the app's namespace goes with its routes, annotations and meshed pods
                    state["applied"] = [
                        a
                        for a in state["applied"]
                        if a not in ("books", "injected", "file:books-routes.yaml")
                        and not a.startswith("httproute:")
                    ]
                    state["annotations"] = []
            print(f'namespace "{name}" deleted')
    elif verb == "delete":
        for word in words[1:]:
            print(f'{word} "deleted"')
    elif verb in (
        "describe",
        "logs",
        "label",
        "patch",
        "scale",
        "exec",
        "port-forward",
        "cluster-info",
        "top",
        "events",
    ):
        print(f"({verb}: test double, nothing to show)")
    else:
        die(f'error: unknown command "{verb}" for "kubectl" (test double)')


def apply(sources: list[str], namespace: str, server_side: bool) -> None:
    if not sources:
        die("error: must specify one of -f and -k")
    verb = "serverside-applied" if server_side else "created"
    for source in sources:
        if source == "-":
            text = sys.stdin.read()
            record("kubectl", "stdin", size=len(text), marks=sorted(set(marks_of(text))))
            if not text.strip():
                die("error: no objects passed to apply")
            docs = read_manifests(text)
            mark_list = marks_of(text)
        elif source.startswith(("http://", "https://")):
            docs = []
            mark_list = [f"url:{source}"]
            if "gateway-api" in source:
                for crd in (
                    "gatewayclasses",
                    "gateways",
                    "httproutes",
                    "grpcroutes",
                    "referencegrants",
                ):
                    print(
                        f"customresourcedefinition.apiextensions.k8s.io/"
                        f"{crd}.gateway.networking.k8s.io {verb}"
                    )
        else:
            path = Path(source)
            if not path.exists():
                die(f'error: the path "{source}" does not exist')
            text = path.read_text()
            docs = read_manifests(text)
            mark_list = [f"file:{path.name}", *marks_of(text)]
            mark_list += [
                f"httproute:{(doc.get('metadata') or {}).get('name')}"
                for doc in docs
                if doc.get("kind") == "HTTPRoute"
            ]
        with cluster_state() as state:
            state["applied"].extend(mark_list)
            for doc in docs:
                if doc.get("kind") == "Namespace":
                    name = (doc.get("metadata") or {}).get("name")
                    if name and name not in state["namespaces"]:
                        state["namespaces"].append(name)
        for doc in docs:
            kind_name = str(doc.get("kind", "object")).lower()
            name = (doc.get("metadata") or {}).get("name", "unnamed")
            print(f"{kind_name}/{name} {verb}")


def marks_of(text: str) -> list[str]:
    """The double marks of manifests the linkerd double printed (what was installed)."""
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(f"{DOUBLE_MARK}:"):
            found.append(stripped.split(":", 1)[1].strip().strip('"'))
    return found


def deployment(name: str, namespace: str, replicas: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": "ghcr.io/buoyantio/booksapp"}]},
            },
        },
    }


def _path_values(value: object, path: str) -> list[object]:
    """Evaluate a kubectl JSONPath path (.a.b[*].c, [0], [?(@.k=="v")]) on ``value``."""
    values = [value]
    for part in re.findall(r"\.([\w-]+)|\[([^\]]+)\]", path):
        name, index = part
        found: list[object] = []
        for item in values:
            if name:
                if isinstance(item, dict) and name in item:
                    found.append(item[name])
            elif index == "*":
                found.extend(item if isinstance(item, list) else [])
            elif index.isdigit():
                if isinstance(item, list) and int(index) < len(item):
                    found.append(item[int(index)])
            else:
                match = re.fullmatch(r'\?\(@\.([\w-]+)=="([^"]*)"\)', index)
                if match and isinstance(item, list):
                    found.extend(
                        i
                        for i in item
                        if isinstance(i, dict) and i.get(match.group(1)) == match.group(2)
                    )
        values = found
    return values


def jsonpath(template: str, document: dict) -> str:
    """The subset of kubectl's JSONPath templates the guide uses: {range X}...{end},
    {"literal"}, {.path}; several results of one path are joined by spaces."""
    tokens = re.findall(r"\{([^{}]*)\}|([^{}]+)", template)

    def render(tokens: list[tuple[str, str]], scope: object) -> str:
        out, i = [], 0
        while i < len(tokens):
            expr, text = tokens[i]
            if text:
                out.append(text)
            elif expr.startswith("range "):
                depth, j = 1, i + 1
                while depth:
                    depth += tokens[j][0].startswith("range ") - (tokens[j][0] == "end")
                    j += 1
                for item in _path_values(scope, expr[6:].strip()):
                    out.append(render(tokens[i + 1 : j - 1], item))
                i = j - 1
            elif expr.startswith('"'):
                out.append(json.loads(expr))
            elif expr != "end":
                out.append(" ".join(str(v) for v in _path_values(scope, expr)))
            i += 1
        return "".join(out)

    return render(tokens, document)


def canned_objects(what: str, namespace: str) -> list[dict]:
    """What `kubectl get` lists, from what was applied (pods meshed once injected)."""
    with cluster_state() as state:
        applied = list(state["applied"])
    injected = "injected" in applied
    if what.startswith(("pod", "po")):
        init = [{"name": "linkerd-init"}, {"name": "linkerd-proxy", "restartPolicy": "Always"}]
        return [
            {
                "metadata": {"name": f"{name}-6c8b9d5f7d-x2x9q", "namespace": namespace},
                "spec": {
                    "initContainers": init if injected else [],
                    "containers": [{"name": name}],
                },
            }
            for name in BOOKS
        ]
    if what.startswith("httproute"):
        accepted = {"parents": [{"conditions": [{"type": "Accepted", "status": "True"}]}]}
        # the API server lists objects sorted by name
        names = sorted({a.split(":", 1)[1] for a in applied if a.startswith("httproute:")})
        return [{"metadata": {"name": name}, "status": accepted} for name in names]
    return []


def get(words: list[str], namespace: str, output: str | None, cluster: str) -> None:
    what = words[0] if words else ""
    if output and output.startswith("jsonpath="):
        items = canned_objects(what, namespace)
        print(jsonpath(output[len("jsonpath=") :], {"items": items}), end="")
        return
    if what in ("node", "nodes", "no"):
        print("NAME                     STATUS   ROLES           AGE   VERSION")
        print(f"{cluster}-control-plane   Ready    control-plane   2m    {NODE_VERSION}")
    elif what in ("ns", "namespace", "namespaces"):
        with cluster_state() as state:
            names = list(state["namespaces"])
        asked = words[1:]
        missing = [name for name in asked if name not in names]
        if missing:
            die(f'Error from server (NotFound): namespaces "{missing[0]}" not found')
        names = asked or names
        print("NAME          STATUS   AGE")
        for name in names:
            print(f"{name:<13} Active   1m")
    elif what in ("deploy", "deployment", "deployments", "deploy,svc", "all") and output in (
        "yaml",
        "json",
    ):
        items = [deployment(name, namespace, 3 if name == "webapp" else 1) for name in BOOKS]
        doc = {"apiVersion": "v1", "kind": "List", "items": items}
        print(
            json.dumps(doc, indent=1)
            if output == "json" or yaml is None
            else yaml.safe_dump(doc, sort_keys=False)
        )
    elif what in ("deploy", "deployment", "deployments", "all"):
        print("NAME      READY   UP-TO-DATE   AVAILABLE   AGE")
        for name in BOOKS:
            ready = "3/3" if name == "webapp" else "1/1"
            print(f"{name:<9} {ready}     {ready[0]}            {ready[0]}           1m")
    elif what in ("pods", "pod", "po"):
        print("NAME                       READY   STATUS    RESTARTS   AGE")
        for name in BOOKS:
            print(f"{name}-6c8b9d5f7d-x2x9q   2/2     Running   0          1m")
    else:
        print(f"NAME   AGE\n{what or 'resource'}   1m")


# -------------------------------------------------------------------------------------- linkerd


def linkerd_version() -> str:
    return os.environ.get("MESHDEMO_DOUBLE_LINKERD_VERSION", DEFAULT_LINKERD)


def manifest(mark: str, kinds: list[tuple[str, str, str]]) -> str:
    """A small multi-document YAML carrying the double's mark, as `linkerd ... install` would."""
    docs = []
    for kind_name, name, namespace in kinds:
        meta = f"  name: {name}\n"
        if namespace:
            meta += f"  namespace: {namespace}\n"
        docs.append(
            f"---\n# Source: test double of linkerd ({mark})\napiVersion: v1\nkind: {kind_name}\n"
            f'metadata:\n{meta}  annotations:\n    {DOUBLE_MARK}: "{mark}"\n'
        )
    return "".join(docs)


def require(mark: str, message: str) -> None:
    with cluster_state() as state:
        applied = list(state["applied"])
    if not any(mark in item for item in applied):
        die(message)


LINKERD_VALUE_FLAGS = {
    "-n",
    "--namespace",
    "-t",
    "--time-window",
    "-o",
    "--output",
    "--port",
    "--address",
    "--show",
    "--context",
    "--kubeconfig",
    "--method",
    "--to",
    "--from",
    "-l",
    "--selector",
    "--wait",
    "--path",
    "--authority",
}


def linkerd(args: list[str]) -> None:
    # positional words only: global and command flags may come anywhere (-n NS check --proxy)
    words, _values, _switches = split_kubectl(args, LINKERD_VALUE_FLAGS)
    opts = parse_flags(args)
    if args[:1] == ["version"] and "--short" in args and "--client" in args:
        print(linkerd_version())
        return
    if args[:1] == ["version"]:
        print(f"Client version: {linkerd_version()}")
        if "--client" not in args:
            with cluster_state() as state:
                installed = "control-plane" in state["applied"]
            print(f"Server version: {linkerd_version() if installed else 'unavailable'}")
        return
    if words[:1] == ["inject"]:
        text = sys.stdin.read() if "-" in args else Path(words[1]).read_text()
        record("linkerd", "stdin", size=len(text))
        docs = read_manifests(text)
        for doc in docs:
            template = doc.setdefault("spec", {}).setdefault("template", {})
            template.setdefault("metadata", {}).setdefault("annotations", {})[
                "linkerd.io/inject"
            ] = "enabled"
            doc.setdefault("metadata", {}).setdefault("annotations", {})[DOUBLE_MARK] = "injected"
            print(
                f'\n{str(doc.get("kind", "")).lower()} "{doc["metadata"]["name"]}" injected',
                file=sys.stderr,
            )
        print(yaml.safe_dump_all(docs, sort_keys=False) if yaml else json.dumps(docs))
        return
    connected_cluster("linkerd", opts.get("--kubeconfig"), opts.get("--context"))
    if words[:1] == ["check"] and "--pre" in args:
        with cluster_state() as state:
            if "linkerd" in state["namespaces"]:  # as the real pre-kubernetes-setup check
                die(
                    "pre-kubernetes-setup\n--------------------\n\u00d7 control plane namespace "
                    'does not already exist\n    The "linkerd" namespace already exists\n\n'
                    "Status check results are \u00d7"
                )
        require(
            "gateway-api",
            "\u00d7 Gateway API CRDs must be installed before Linkerd "
            "(linkerd-gateway-api check: test double)\nStatus check results are \u00d7",
        )
        print(
            "kubernetes-api\n--------------\n√ can initialize the client\n\n"
            "Status check results are √"
        )
    elif words[:1] == ["install"] and "--crds" in args:
        require("gateway-api", "Error: the Gateway API CRDs must be installed first")
        print(
            manifest(
                "crds",
                [
                    ("CustomResourceDefinition", "servers.policy.linkerd.io", ""),
                    ("CustomResourceDefinition", "authorizationpolicies.policy.linkerd.io", ""),
                ],
            )
        )
    elif words[:1] == ["install"]:
        require(
            "crds",
            "Linkerd CRDs must be installed first. Run linkerd install with the --crds flag.",
        )
        print(
            manifest(
                "control-plane",
                [
                    ("Namespace", "linkerd", ""),
                    ("Deployment", "linkerd-destination", "linkerd"),
                    ("Deployment", "linkerd-identity", "linkerd"),
                    ("Deployment", "linkerd-proxy-injector", "linkerd"),
                ],
            )
        )
    elif words[:1] == ["check"]:
        require(
            "control-plane",
            "\u00d7 control plane namespace does not exist\nStatus check results are \u00d7",
        )
        print(
            "linkerd-existence\n-----------------\n√ control plane is running\n\n"
            "Status check results are √"
        )
    elif words[:2] == ["viz", "install"]:
        require("control-plane", "Error: could not find the Linkerd control plane")
        print(
            manifest(
                "viz",
                [
                    ("Namespace", "linkerd-viz", ""),
                    ("Deployment", "web", "linkerd-viz"),
                    ("Deployment", "prometheus", "linkerd-viz"),
                ],
            )
        )
    else:
        viz(words, args, opts)


def viz(words: list[str], args: list[str], opts: dict[str, str]) -> None:
    if words[:1] != ["viz"]:
        die(f'Error: unknown command {" ".join(words)!r} for "linkerd" (test double)')
    require("viz", "Error: viz extension is not installed: linkerd viz install first")
    sub = words[1] if len(words) > 1 else ""
    if sub == "check":
        print(
            "linkerd-viz\n-----------\n√ viz extension pods are running\n\n"
            "Status check results are √"
        )
    elif sub == "dashboard":
        dashboard(
            int(opts.get("--port", "50750")),
            opts.get("--address", "localhost"),
            opts.get("--show", "linkerd"),
        )
    elif sub in ("tap", "top"):
        block_until_signalled(
            "linkerd",
            every=0.2,
            line="req id=0:{n} proxy=out src=10.244.0.9:4300 dst=10.244.0.12:7002 "
            ":method=POST :authority=books:7002 :path=/books.json",
        )
    elif sub == "stat":
        with cluster_state() as state:
            retried = any("retry.linkerd.io/http=5xx" in w for a in state["annotations"] for w in a)
        window = opts.get("-t") or opts.get("--time-window") or "1m"
        # after the retries, a short window sees only the recovered rate, a long one a mix
        webapp = (0.96 if window in ("30s", "1m") else 0.81) if retried else 0.74
        rates = {"authors": 0.52, "books": 0.68, "traffic": None, "webapp": webapp}
        if os.environ.get("MESHDEMO_DOUBLE_SUCCESS"):  # a healthy app: every rate the same
            healthy = float(os.environ["MESHDEMO_DOUBLE_SUCCESS"])
            rates = {name: None if rate is None else healthy for name, rate in rates.items()}
        namespace = opts.get("-n") or opts.get("--namespace") or "default"
        if opts.get("-o") == "json" or opts.get("--output") == "json":
            entries = [
                {
                    "namespace": namespace,
                    "kind": "deployment",
                    "name": name,
                    "meshed": "3/3" if name == "webapp" else "1/1",
                    "success": rate,
                    "rps": None if rate is None else 1.5,
                    "latency_ms_p50": None if rate is None else 12,
                }
                for name, rate in sorted(rates.items())
            ]
            print(json.dumps(entries, indent=2))
        else:
            print(
                "NAME      MESHED   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   "
                "LATENCY_P99   TCP_CONN"
            )
            for name, rate in sorted(rates.items()):
                meshed = "3/3" if name == "webapp" else "1/1"
                if rate is None:
                    print(
                        f"{name:<9} {meshed}          -        -             -             "
                        f"-             -          -"
                    )
                else:
                    print(
                        f"{name:<9} {meshed}     {rate * 100:6.2f}%   1.5rps          12ms"
                        f"          40ms          80ms          3"
                    )
    elif sub == "stat-inbound":
        print(
            "NAME    SERVER          ROUTE      TYPE  SUCCESS   RPS  LATENCY_P50  LATENCY_P95  "
            "LATENCY_P99"
        )
        print(
            "webapp  [default]:4191  [default]        100.00%  0.30          1ms          1ms  "
            "        1ms"
        )
        print(
            "webapp  [default]:7000  [default]         74.00%  8.00         19ms         90ms  "
            "       98ms"
        )
    elif sub == "stat-outbound":
        with cluster_state() as state:
            routes = "file:books-routes.yaml" in state["applied"]
            retried = any("retry.linkerd.io/http=5xx" in w for a in state["annotations"] for w in a)
        print(
            "NAME    SERVICE       ROUTE         TYPE       BACKEND       SUCCESS   RPS  "
            "LATENCY_P50  LATENCY_P95  LATENCY_P99  TIMEOUTS  RETRIES"
        )
        print(
            "webapp  authors:7001  [default]                             100.00%  2.15  "
            "        3ms          9ms         10ms     0.00%    0.00%"
        )
        print(
            "                      └──────────────────►  authors:7001   100.00%  2.15  "
            "        3ms          9ms         10ms     0.00%         "
        )
        rows = (
            [
                ("books-catch-all", "HTTPRoute", "100.00%"),
                ("books-create", "HTTPRoute", "93.00%" if retried else "54.00%"),
                ("books-delete", "HTTPRoute", "100.00%"),
                ("books-list", "HTTPRoute", "100.00%"),
            ]
            if routes
            else [("[default]", "", "79.00%")]
        )
        for route, kind, pct in rows:
            print(
                f"webapp  books:7002    {route:<13} {kind:<10}                {pct:>7}  1.20  "
                "       12ms         85ms         97ms     0.00%    "
                f"{'24.00%' if retried and route == 'books-create' else '0.00%'}"
            )
            print(
                "                      └──────────────────►  books:7002      54.00%  1.20  "
                "       12ms         85ms         97ms     0.00%         "
            )
    elif sub in ("edges", "routes"):
        print("SRC     DST    SRC_NS    DST_NS    SECURED")
        print("webapp  books  booksapp  booksapp  √")
    else:
        die(f'Error: unknown command "{sub}" for "linkerd viz" (test double)')


class DashboardHandler(http.server.BaseHTTPRequestHandler):
    """Answers like viz's web: only for Host localhost / 127.0.0.1 / [::1]."""

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in ("localhost", "127.0.0.1", "[::1]"):
            self.send_error(403, "host not allowed (viz web accepts localhost only)")
            return
        rows = "".join(
            f"<tr><td>{name}</td><td>{rate}</td></tr>"
            for name, rate in (("authors", "52.00%"), ("books", "68.00%"), ("webapp", "74.00%"))
        )
        body = (
            "<!doctype html><html><head><title>Linkerd dashboard (test double)</title></head>"
            f"<body><h1>Test double of the Linkerd viz dashboard</h1><p>{self.path}</p>"
            f"<table><thead><tr><th>Name</th><th>Success</th></tr></thead><tbody>{rows}</tbody>"
            "</table></body></html>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        record("linkerd", "dashboard-request", line=format % args)


def dashboard(port: int, address: str, show: str) -> None:
    bind = "127.0.0.1" if address in ("localhost", "127.0.0.1") else address
    try:
        server = http.server.ThreadingHTTPServer((bind, port), DashboardHandler)
    except OSError as error:
        die(f"Error: failed to port-forward to the web deployment: {error}")
    server.daemon_threads = True
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://{address}:{server.server_address[1]}"
    record("linkerd", "dashboard-listening", url=url)
    print(f"Linkerd dashboard available at:\n{url}", flush=True)
    if show != "url":
        print(f"Opening Linkerd dashboard in the default browser (test double: {show})", flush=True)
    block_until_signalled("linkerd")


# ----------------------------------------------------------------------------------------- curl

INSTALL_SCRIPT = """#!/bin/sh
# Test double of run.linkerd.io/install-edge: installs the linkerd double, like the real
# script installs the CLI, into $HOME/.linkerd2/bin (not on PATH until the reader adds it).
set -eu
version="${{LINKERD2_VERSION:-{default}}}"
dest="${{INSTALL_ROOT:-$HOME/.linkerd2}}/bin"
mkdir -p "$dest"
cat > "$dest/linkerd-$version" <<EOF
#!/bin/sh
MESHDEMO_DOUBLE_LINKERD_VERSION=$version exec {python} {module} linkerd "\\$@"
EOF
chmod +x "$dest/linkerd-$version"
ln -sf "linkerd-$version" "$dest/linkerd"
echo "Linkerd $version was successfully installed 🎉 (test double)"
echo ""
echo "Add the linkerd CLI to your path with:"
echo ""
echo "  export PATH=\\$PATH:$dest"
"""

BOOKS_MANIFEST = "".join(
    f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
    f"  labels:\n    app.kubernetes.io/part-of: booksapp\n    {DOUBLE_MARK}: books\n"
    f"spec:\n  replicas: {3 if name == 'webapp' else 1}\n"
    for name in BOOKS
)


def curl(args: list[str]) -> None:
    url = next((a for a in args if a.startswith(("http://", "https://"))), None)
    opts = parse_flags(args)
    if args[:1] == ["--version"]:
        print("curl 8.14.1 (test double)\nProtocols: http https")
        return
    if url is None:
        die("curl: no URL specified (test double)", 2)
    code = 200
    if url.startswith(("http://localhost", "http://127.0.0.1", "http://[::1]")):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body, code = response.read(), response.status
        except urllib.error.HTTPError as error:
            die(f"curl: (22) The requested URL returned error: {error.code}", 22)
        except Exception as error:  # the double answers like curl: a message and exit 7
            die(f"curl: (7) Failed to connect: {error}", 7)
    elif url.endswith(("/install-edge", "/install")):
        python = shlex.quote(sys.executable)
        body = INSTALL_SCRIPT.format(
            default=DEFAULT_LINKERD,
            python=python,
            module=shlex.quote(str(Path(__file__).resolve())),
        ).encode()
    elif url.endswith("booksapp.yml"):
        body = BOOKS_MANIFEST.encode()
    else:
        die(f"curl: (22) The requested URL returned error: 404 ({url}, test double)", 22)
    out = opts.get("-o") or opts.get("--output")
    if "-O" in args:
        out = url.rsplit("/", 1)[-1]
    if out:
        Path(out).write_bytes(body)
    else:
        sys.stdout.buffer.write(body)
    write_out = opts.get("-w") or opts.get("--write-out")
    if write_out:
        sys.stdout.write(write_out.replace("%{http_code}", str(code)).replace("\\n", "\n"))


# --------------------------------------------------------------------------------------- docker


def docker(args: list[str]) -> None:
    if os.environ.get("MESHDEMO_DOUBLE_DOCKER_DOWN"):
        die(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
            "Is the docker daemon running?"
        )
    cpus = int(os.environ.get("MESHDEMO_DOUBLE_DOCKER_CPUS", "4"))
    memory = int(os.environ.get("MESHDEMO_DOUBLE_DOCKER_MEMORY", str(8 * 1024**3)))
    if args[:1] == ["info"]:
        info = {
            "NCPU": cpus,
            "MemTotal": memory,
            "ServerVersion": "28.2.2",
            "OperatingSystem": "test double",
            "CgroupVersion": os.environ.get("MESHDEMO_DOUBLE_DOCKER_CGROUP", "2"),
            "ServerErrors": None,
        }
        template = parse_flags(args).get("--format") or parse_flags(args).get("-f")
        field = re.fullmatch(r"\{\{\s*\.(\w+)\s*\}\}", template or "")
        if field:  # a Go template naming one field: {{.CgroupVersion}}
            print(info.get(field.group(1), "<no value>"))
        elif template:
            print(json.dumps(info))
        else:
            print(f"Server Version: 28.2.2\nCPUs: {cpus}")
    elif args[:1] == ["version"]:
        print("28.2.2" if "--format" in args else "Client: 28.2.2\nServer: 28.2.2")
    elif args[:1] == ["ps"]:
        print("CONTAINER ID   IMAGE   NAMES")
    else:
        die(f"docker: unknown command {' '.join(args)!r} (test double)")


TOOLS = {"kind": kind, "kubectl": kubectl, "linkerd": linkerd, "curl": curl, "docker": docker}


def main(argv: list[str]) -> None:
    tool, args = argv[1], argv[2:]
    record(
        tool,
        "start",
        argv=args,
        cwd=os.getcwd(),
        kubeconfig=os.environ.get("KUBECONFIG"),
        path=os.environ.get("PATH", ""),
        home=os.environ.get("HOME"),
    )
    switch = failure_switch(tool, args)
    if switch:
        record(tool, "exit", status=1, failed_on_purpose=switch)
        die(f"Error: {tool} failed on purpose (test double, MESHDEMO_DOUBLES_FAIL={switch!r})")
    try:
        TOOLS[tool](args)
    except SystemExit as done:
        record(tool, "exit", status=done.code if isinstance(done.code, int) else 1)
        raise
    except BrokenPipeError:
        record(tool, "exit", status=141)
        os._exit(141)
    sys.stdout.flush()
    late = failure_switch(tool, args, late=True)
    if late:
        record(tool, "exit", status=1, failed_on_purpose=late)
        die(f"Error: {tool} failed on purpose after its output (test double, {late!r})")
    record(tool, "exit", status=0)


if __name__ == "__main__":
    main(sys.argv)
