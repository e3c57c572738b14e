"""pytest plugin: each step of an MkDocs guide as a test item, run in one bash session.

Loaded in every pytest run of an environment where meshdemo is installed (``pytest11`` entry
point), it does nothing unless ``--meshdemo`` is given. Then:

* the guide's ``mkdocs.yml`` (``--meshdemo-config``) is added to what pytest collects, and yields
  one item per step in run order, named by step id, located at its fence (``page:line``);
* every item runs in ONE :class:`~meshdemo.run.runner.Runner` (one bash session) for the whole
  pytest session, with the same options as ``meshdemo run`` (private kubeconfig, cleanup policy,
  captures unless ``--meshdemo-no-capture``);
* after a failed step the later ones are skipped ("previous step failed"), except teardown
  steps, which follow the cleanup policy;
* with ``--markdown-docs`` (pytest-markdown-docs), the ``python`` fences it collects from the
  guide's pages are moved to their place among the steps (nav order, then line), run with the
  run's environment (``KUBECONFIG`` …), and replace the plugin's own item for the same fence.

Line numbers: ``reportinfo()`` follows pytest's convention (0-based, as for Python tests, so
pytest's messages show the fence's line); each item also records a ``location`` user property
``page:line`` (1-based, as an editor shows it), which junitxml writes in every family.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from meshdemo.model import Kind, Project, Step
from meshdemo.run.options import add_pytest_options
from meshdemo.status import CleanupPolicy, StepStatus

STATE_KEY = "meshdemo_state"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meshdemo", "run the steps of an MkDocs guide")
    group.addoption(
        "--meshdemo", action="store_true", help="collect and run the steps of an MkDocs guide"
    )
    group.addoption(
        "--meshdemo-config",
        default="mkdocs.yml",
        metavar="FILE",
        help="the guide's MkDocs configuration (default: mkdocs.yml)",
    )
    add_pytest_options(group, cleanup=CleanupPolicy.ON_SUCCESS)


class GuideState:
    """What the items of one pytest session share: the project and its one runner."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.config_file = Path(config.getoption("meshdemo_config")).absolute()
        self.project: Project | None = None
        self._runner: Any = None
        self.steps: list[Step] = []
        # every guide item's result, in run order: the job summary under GitHub Actions
        self.reported: list[Any] = []
        self.previous_handlers: dict[int, object] = {}  # signal handlers before the run's

    def load(self) -> Project:
        if self.project is None:
            from meshdemo.guide.project import load_project

            self.project = load_project(self.config_file)
            self.steps = self.project.steps
        return self.project

    @property
    def runner(self) -> Any:
        if self._runner is None:
            from meshdemo.run.options import from_pytest
            from meshdemo.run.runner import Runner

            # each test item ends with its step's capture recorded: an error recording it
            # fails that item, not the next one
            self._runner = Runner(self.load(), from_pytest(self.config), record_later=False)
        return self._runner

    def finish(self, *, interrupted: bool = False) -> None:
        if self._runner is not None:
            from meshdemo.run.life import stopped_by

            signum = (stopped_by[-1] if stopped_by else None) if interrupted else None
            self._runner.finish(self.executed_steps(), interrupted=interrupted, signum=signum)
            self._runner = None

    def executed_steps(self) -> list[Step]:
        """The steps that ran, and the one a signal stopped."""
        runner = self._runner
        ran = {r.step.id for r in runner.results} if runner else set()
        if runner is not None and runner.running is not None:
            ran.add(runner.running.id)
        return [s for s in self.steps if s.id in ran]


def _state(config: pytest.Config) -> GuideState | None:
    return getattr(config, "_" + STATE_KEY, None)


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("meshdemo"):
        return
    state = GuideState(config)
    if not state.config_file.is_file():
        raise pytest.UsageError(
            f"--meshdemo: no MkDocs configuration at {state.config_file} (see --meshdemo-config)"
        )
    setattr(config, "_" + STATE_KEY, state)
    # SIGTERM (a CI cancel) and SIGHUP (a closed terminal) stop the run as Ctrl-C does: pytest
    # sees a KeyboardInterrupt, and pytest_sessionfinish stops every process of the run
    from meshdemo.run.life import install_stop_handlers

    state.previous_handlers = install_stop_handlers()
    # collect the guide along with whatever else pytest was asked to collect
    known = {Path(arg.split("::")[0]).absolute() for arg in config.args}
    if state.config_file not in known:
        config.args.append(str(state.config_file))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    state = _state(parent.config)
    if state is None or Path(file_path).absolute() != state.config_file:
        return None
    return MkDocsGuide.from_parent(parent, path=Path(file_path))


class MkDocsGuide(pytest.File):
    """An mkdocs.yml, collected as the steps of its guide."""

    def collect(self) -> Any:
        from meshdemo.errors import MeshdemoError

        state = _state(self.config)
        assert state is not None
        try:
            project = state.load()
        except MeshdemoError as error:
            raise self.CollectError(str(error)) from None
        for step in project.steps:
            yield StepItem.from_parent(self, name=step.id, step=step)


class StepBroken(Exception):
    """The run broke off at this step for a reason outside the guide (said without a
    traceback: the engine stopped every process and knows why)."""


class StepFailed(Exception):
    def __init__(self, result: Any):
        super().__init__(result.note or result.status)
        self.result = result


class StepItem(pytest.Item):
    """One step of the guide."""

    def __init__(self, *, step: Step, **kwargs: Any):
        super().__init__(**kwargs)
        self.step = step
        self.user_properties.append(("location", step.location))
        self.user_properties.append(("page", step.page))

    def runtest(self) -> None:

        from meshdemo.errors import MeshdemoError
        from meshdemo.run.life import RunBroken

        state = _state(self.config)
        assert state is not None
        try:
            result = state.runner.execute(self.step)
        except RunBroken as error:
            raise StepBroken(str(error)) from None
        except MeshdemoError as error:
            # the run cannot start (another run holds the project, captures not writable)
            pytest.exit(f"meshdemo: {error}", returncode=pytest.ExitCode.USAGE_ERROR)
        state.reported.append(result)
        if result.status == StepStatus.SKIPPED:
            _skip(result.note or "skipped")
        if result.status == StepStatus.NOT_RUN:
            failure = state.runner.failure
            if failure is None and state.runner.error:
                _skip(state.runner.error)
            where = f" ({failure.step.location} {failure.step.id})" if failure else ""
            _skip(f"previous step failed{where}")
        if not result.ok:
            raise StepFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, StepBroken):
            return f"{self.step.location}: {excinfo.value}"
        if not isinstance(excinfo.value, StepFailed):
            return super().repr_failure(excinfo)
        from meshdemo.report import failure_lines

        return "\n".join(failure_lines(excinfo.value.result))

    def reportinfo(self) -> tuple[Path | str, int | None, str]:
        source = self.step.source or self.path
        return source, self.step.line - 1, f"{self.step.location} {self.step.id}"


def _skip(reason: str) -> None:
    """Skip, reported at the step's fence rather than at this line of the plugin."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


def _markdown_docs_item(item: pytest.Item) -> bool:
    return type(item).__name__ == "MarkdownInlinePythonItem" and hasattr(item, "start_line")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Put the guide's markdown-docs items at their place among the steps (see the module doc)."""
    state = _state(config)
    if state is None or state.project is None:
        return
    project = state.project
    docs_dir = project.docs_dir.resolve()
    nav_index = {page.path: n for n, page in enumerate(project.pages)}
    guide: list[tuple[tuple[int, int, int], pytest.Item]] = []
    fences: set[tuple[str, int]] = set()
    others: list[pytest.Item] = []
    first: int | None = None
    for position, item in enumerate(items):
        key: tuple[int, int, int] | None = None
        if isinstance(item, StepItem):
            key = (nav_index.get(item.step.page, len(nav_index)), item.step.line, 1)
        elif _markdown_docs_item(item):
            try:
                page = Path(item.path).resolve().relative_to(docs_dir).as_posix()
            except ValueError:
                page = None
            if page in nav_index:
                line = int(item.start_line)  # type: ignore[attr-defined]
                key = (nav_index[page], line, 0)
                fences.add((page, line))
                item._meshdemo_guide = True  # type: ignore[attr-defined]
        if key is None:
            others.append(item)
        else:
            first = position if first is None else first
            guide.append((key, item))

    # a python fence collected by markdown-docs runs there, not twice: its own step item is
    # deselected (and reported so, keeping pytest's "collected" count honest)
    def duplicated(item: pytest.Item) -> bool:
        return (
            isinstance(item, StepItem)
            and item.step.kind == Kind.PYTHON
            and (item.step.page, item.step.line) in fences
        )

    dropped = [item for _, item in guide if duplicated(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    guide = [(key, item) for key, item in guide if not duplicated(item)]
    guide.sort(key=lambda pair: pair[0])
    ordered = [item for _, item in guide]
    # the guide goes where its first item was; everything else keeps its order around it
    insert_at = sum(1 for item in items[: first or 0] if not _is_guide(item))
    items[:] = others[:insert_at] + ordered + others[insert_at:]


def _is_guide(item: pytest.Item) -> bool:
    return isinstance(item, StepItem) or getattr(item, "_meshdemo_guide", False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed markdown-docs block of the guide stops the later steps, as a step would; every
    guide item's result is recorded, and a failure annotated under GitHub Actions."""
    report = yield
    state = _state(item.config)
    if state is None or not _is_guide(item):
        return report
    result: Any = None
    if isinstance(item, StepItem):
        if call.when == "call" and state.reported and state.reported[-1].step is item.step:
            result = state.reported[-1]
    elif call.when == "call" or (call.when == "setup" and report.skipped):
        result = _python_block_result(state, item, report)
        if result is not None:
            state.reported.append(result)
            if result.status == StepStatus.FAILED and state.runner.failure is None:
                state.runner.failure = result
    if result is not None and StepStatus(result.status).failed:
        _annotate(item.config, result)
    return report


def _python_block_result(state: GuideState, item: pytest.Item, report: pytest.TestReport) -> Any:
    """A markdown-docs block's outcome as the result of its step."""
    from meshdemo.run.runner import StepResult

    page = Path(item.path).resolve().relative_to(state.load().docs_dir.resolve())
    line = int(item.start_line)  # type: ignore[attr-defined]
    step = next((s for s in state.steps if s.page == page.as_posix() and s.line == line), None)
    if step is None:
        return None
    if report.failed:
        return StepResult(
            step,
            StepStatus.FAILED,
            output=report.longreprtext,
            duration=report.duration,
            attempts=1,
            note="python block failed (pytest-markdown-docs)",
        )
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else None
        status = StepStatus.NOT_RUN if report.when == "setup" else StepStatus.SKIPPED
        return StepResult(step, status, note=str(reason).removeprefix("Skipped: ") or None)
    return StepResult(step, StepStatus.PASSED, duration=report.duration, attempts=1)


def _annotate(config: pytest.Config, result: Any) -> None:
    """Under GitHub Actions, the failure as an annotation at the step's fence."""
    from meshdemo.report import github_annotation, on_github_actions

    if not on_github_actions():
        return
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    line = github_annotation(result, workspace)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print(line, flush=True)
    else:
        reporter.ensure_newline()
        reporter.write_line(line)


_saved_env: dict[str, str | None] = {}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """markdown-docs items of the guide: skipped after a failure, else run in the run's env."""
    if not getattr(item, "_meshdemo_guide", False):
        return
    state = _state(item.config)
    assert state is not None
    runner = state.runner
    if runner.failure is not None:
        failed = runner.failure.step
        pytest.skip(f"previous step failed ({failed.location} {failed.id})")
    if runner.error is not None:
        pytest.skip(runner.error)
    from meshdemo.errors import MeshdemoError

    try:
        runner.open()
    except MeshdemoError as error:
        pytest.exit(f"meshdemo: {error}", returncode=pytest.ExitCode.USAGE_ERROR)
    names = ("KUBECONFIG", "MESHDEMO_RUN_DIR", "MESHDEMO_PYTHON", "MESHDEMO_EXISTING_CLUSTER")
    env = runner.environment()
    for name in names:
        _saved_env[name] = os.environ.get(name)
        if name in env:
            os.environ[name] = env[name]
        else:
            os.environ.pop(name, None)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if not getattr(item, "_meshdemo_guide", False):
        return
    for name, value in _saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved_env.clear()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = _state(session.config)
    if state is not None:
        from meshdemo.run.life import deferred_signals

        # after Ctrl-C (or SIGTERM, SIGHUP): stop everything at once, no tool versions; a
        # second signal meanwhile must not cut the clean-up short
        with deferred_signals():
            state.finish(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)
        _write_github_summary(state)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = _state(config)
    if state is not None and state.previous_handlers:
        from meshdemo.run.life import restore_handlers

        restore_handlers(state.previous_handlers)
        state.previous_handlers = {}


def _write_github_summary(state: GuideState) -> None:
    """Under GitHub Actions, the table of the guide's steps in the job summary."""
    from meshdemo.report import github_summary, on_github_actions

    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not (on_github_actions() and summary and state.reported):
        return
    try:
        title = state.config_file.relative_to(Path.cwd()).as_posix()
    except ValueError:
        title = str(state.config_file)
    with open(summary, "a", encoding="utf-8") as out:
        out.write(github_summary(state.reported, f"meshdemo: the steps of {title}") + "\n")
