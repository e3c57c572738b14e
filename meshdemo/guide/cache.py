"""The project cache: a loaded project kept in ``.meshdemo/``, with what it was read from.

Reading a project runs MkDocs' configuration, its plugins and mkdocs-macros: most of a second
for a guide whose steps take a few milliseconds to list. The cache keeps the result together
with its inputs, each by the digest of its content:

* the MkDocs configuration and every file it inherits (``INHERIT:``), and the value of each
  environment variable they read (``!ENV``);
* every file under ``docs_dir`` (pages, snippets and templates a page may include) and under
  mkdocs-macros' ``include_dir``; except what a run writes there (the capture store, the
  screenshots) while no step's fence reads it through a macro: a run, or the list after it,
  must not read the project again because the run before recorded its outputs;
* the files mkdocs-macros loads: ``include_yaml`` files, the project's ``main.py`` (or its
  absence), the modules named in ``modules``;
* the installed distributions (their names and versions), meshdemo's own code (each source
  file by its size and modification time, as Python's bytecode cache knows it), and Python's
  version.

The cache is read back only when every one of them is as it was; anything else reads the
project again. A build keeps what it read of each page the same way (:class:`PageCache`).
``MESHDEMO_NO_CACHE=1`` turns both off. A cache that cannot be read or written
is ignored: it is never a reason for a command to fail.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshdemo.model import Project

FORMAT = 2  # bumped when what is kept changes shape
FOLDER = ".meshdemo"  # the project's private folder (also the run's)
ENV_OFF = "MESHDEMO_NO_CACHE"


def cache_enabled() -> bool:
    return os.environ.get(ENV_OFF, "") not in ("1", "true", "yes")


def digest_file(path: Path | str) -> str | None:
    """The digest of a file's content; None when there is no such file."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def digest_tree(
    folder: Path | str, left_out: frozenset[str] = frozenset()
) -> dict[str, str | None]:
    """Every file under ``folder`` (links followed, as MkDocs does), by its content's digest.

    ``left_out``: paths relative to ``folder`` (files, or folders with all they hold) not
    counted.
    """
    found: dict[str, str | None] = {}
    root = str(folder)
    for current, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        if left_out:
            here = os.path.relpath(current, root)
            dirnames[:] = [
                d for d in dirnames if os.path.normpath(os.path.join(here, d)) not in left_out
            ]
        for name in sorted(filenames):
            path = os.path.join(current, name)
            relative = os.path.relpath(path, root)
            if relative not in left_out:
                found[relative] = digest_file(path)
    return found


def installed() -> str:
    """One digest for what the code that reads a project is: installed distributions (names
    and versions, from their metadata folders), meshdemo's own source (an editable install
    keeps its version while its code changes), and the Python that runs it."""
    digest = hashlib.sha256(f"{FORMAT} {sys.version}".encode())
    # the names alone (``mkdocs-1.6.1.dist-info``), not the folders that hold them: a script,
    # ``python -m`` and pytest start Python with different search paths over one environment
    found: set[str] = set()
    for entry in sys.path:
        try:
            listed = os.listdir(entry or ".")
        except OSError:
            continue
        found.update(n for n in listed if n.endswith((".dist-info", ".egg-info")))
    digest.update("|".join(sorted(found)).encode())
    digest.update(source_stamp(Path(__file__).resolve().parent.parent).encode())
    return digest.hexdigest()


def source_stamp(package: Path | str) -> str:
    """What the Python source files under ``package`` are, by path, size and modification
    time: the test Python's own bytecode cache trusts, in a few stat calls instead of
    reading and hashing every file at every start (~5 ms)."""
    lines = []
    root = os.fspath(package)
    for current, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = os.path.join(current, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                relative = os.path.relpath(path, root)
                lines.append(f"{relative} {stat.st_size} {stat.st_mtime_ns}")
    return "\n".join(lines)


@dataclass
class Inputs:
    """What a project was read from, each input by its content."""

    files: dict[str, str | None] = field(default_factory=dict)  # path → digest (None: absent)
    trees: dict[str, dict[str, str | None]] = field(default_factory=dict)  # folder → its files
    env: dict[str, str | None] = field(default_factory=dict)  # variable → value (None: unset)
    code: str = ""  # installed()
    left_out: dict[str, frozenset[str]] = field(default_factory=dict)  # folder → not counted

    @classmethod
    def start(cls) -> Inputs:
        return cls(code=installed())

    def add_file(self, path: Path) -> None:
        key = str(Path(path).absolute())
        self.files[key] = digest_file(key)

    def add_tree(self, folder: Path) -> None:
        key = str(Path(folder).absolute())
        self.trees[key] = digest_tree(key)

    def leave_out(self, folder: Path, paths: list[Path]) -> None:
        """Stop counting ``paths`` (files or folders under the recorded tree ``folder``)."""
        key = str(Path(folder).absolute())
        if key not in self.trees:
            return
        inside = {
            os.path.normpath(os.path.relpath(Path(p).absolute(), key))
            for p in paths
            if not os.path.relpath(Path(p).absolute(), key).startswith("..")
        }
        left_out = self.left_out.get(key, frozenset()) | inside
        self.left_out[key] = left_out
        self.trees[key] = {
            relative: digest
            for relative, digest in self.trees[key].items()
            if not any(
                relative == skipped or relative.startswith(skipped + os.sep) for skipped in left_out
            )
        }

    def add_env(self, names: list[str]) -> None:
        for name in names:
            self.env[name] = os.environ.get(name)

    def unchanged(self) -> bool:
        """True when every input is as it was recorded."""
        return (
            all(digest_file(path) == digest for path, digest in self.files.items())
            and all(
                digest_tree(folder, self.left_out.get(folder, frozenset())) == files
                for folder, files in self.trees.items()
            )
            and all(os.environ.get(name) == value for name, value in self.env.items())
            and installed() == self.code
        )


class ProjectCache:
    """``.meshdemo/project-<digest of the config path>.pickle`` beside a project's mkdocs.yml.

    The file holds two pickles: the inputs first, then the project, so that a stale cache is
    found out before the project is unpickled. It is the project's own private folder,
    written by meshdemo only, like the rest of ``.meshdemo/``.
    """

    def __init__(self, config_path: Path):
        self.config_path = Path(config_path).absolute()
        tag = hashlib.sha256(str(self.config_path).encode()).hexdigest()[:16]
        self.folder = self.config_path.parent / FOLDER
        self.path = self.folder / f"project-{tag}.pickle"

    def load(self) -> Project | None:
        """The kept project when nothing it was read from changed, else None."""
        try:
            with open(self.path, "rb") as handle:
                header = pickle.load(handle)
                if not isinstance(header, dict) or header.get("format") != FORMAT:
                    return None
                if header.get("config") != str(self.config_path):
                    return None
                inputs = header.get("inputs")
                if not isinstance(inputs, Inputs) or not inputs.unchanged():
                    return None
                return pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError,
                TypeError, ValueError, IndexError):  # fmt: skip
            return None

    def save(self, project: Project, inputs: Inputs) -> None:
        """Keep ``project``; a folder that cannot be written just means no cache."""
        header: dict[str, Any] = {"format": FORMAT, "config": str(self.config_path)}
        header["inputs"] = inputs
        try:
            self.folder.mkdir(exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# meshdemo's private state: never committed\n*\n")
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".project-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    pickle.dump(header, handle, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(project, handle, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            return

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


@functools.cache
def _code_once() -> str:
    return installed()


class PageCache:
    """Pages a build read before, kept in ``.meshdemo/pages/``: one file a page.

    A build (and every rebuild of ``mkdocs serve``) reads each page's steps again to place what
    ran under them; a page whose rendered text is the one read last time is taken from here.
    The key is the page, docs_dir, the rendered text and the code that reads it (``installed``),
    so anything else reads the page again. Only where the project's private folder exists
    already (a run or a ``meshdemo`` command made it): a build never creates it.
    """

    def __init__(self, run_dir: Path):
        self.folder = Path(run_dir) / "pages"
        self.enabled = cache_enabled() and Path(run_dir).is_dir()

    def read(self, page: str, rendered: str, docs_dir: Path) -> Any:
        """``read_rendered_page(page, rendered, docs_dir=docs_dir)``, kept. Raises ParseError."""
        from meshdemo.guide.pages import read_rendered_page

        if not self.enabled:
            return read_rendered_page(page, rendered, docs_dir=docs_dir)
        key = hashlib.sha256(
            "\0".join((str(FORMAT), _code_once(), page, str(docs_dir), rendered)).encode()
        ).hexdigest()
        path = self.folder / f"{hashlib.sha256(page.encode()).hexdigest()[:16]}.pickle"
        try:
            with open(path, "rb") as handle:
                if pickle.load(handle) == key:
                    return pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError,
                TypeError, ValueError, IndexError):  # fmt: skip
            pass
        read = read_rendered_page(page, rendered, docs_dir=docs_dir)  # a ParseError is not kept
        try:
            self.folder.mkdir(exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".page-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    pickle.dump(key, handle, protocol=pickle.HIGHEST_PROTOCOL)
                    pickle.dump(read, handle, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            pass
        return read
