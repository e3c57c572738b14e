"""One long-lived bash process that runs every step of a guide, in order.

How a step runs (see the notes on bash job control this builds on):

* The step's text is written to a file, and the step's *control* to another::

      \\builtin trap 'ABORT-TEST' USR1; \\builtin test -z "${!-}" || \\builtin jobs >/dev/null 2>&1;
      \\builtin source STEPFILE </dev/null >OUTFIFO 2>&1;
      \\builtin printf '%s %s %s\\n' MARKER "$?" "${EPOCHREALTIME-}"

  The shell is sent ``\\builtin . CONTROLFILE`` (``.`` is ``source``) on its standard input
  (the *control pipe*): bash reads a pipe a byte at a time, a file whole, so the line it reads
  byte by byte is kept short, and names the same control file for every step (bash has read
  it whole before the step's marker comes). ``return`` (a step's own, or its abort's) leaves
  the innermost file sourced, the step's, and the control goes on to print the marker.

  ``source`` keeps the state a step sets (variables, functions, ``cd``, ``PATH``) for the next
  one; ``</dev/null`` gives a command that reads standard input an immediate end of file instead
  of the rest of the control pipe; ``>OUTFIFO 2>&1`` sends stdout and stderr, interleaved in the
  order they were written, into a FIFO this process reads while the step runs, keeping a bounded
  tail (:class:`~meshdemo.run.output.OutputTail`): a step that prints without end costs neither
  memory nor disk. The next step prints into the same FIFO once no process holds it any more
  (:class:`StepOutput`). The shell's own stdout carries nothing but marker lines. ``jobs``
  (run only once the shell started a job: ``$!`` is set) consumes the reports of jobs that
  ended since the last step.
* **The protocol cannot be broken from inside by accident.** Every word of it is a builtin
  called as ``\\builtin NAME`` (the backslash defeats aliases, ``builtin`` defeats functions: a
  step that defines ``source`` or ``printf`` changes nothing); it sets no shell variable (a step
  may make every variable readonly) and reads one, ``EPOCHREALTIME``, only for the time the
  step ended, which it does without; the marker is fresh and random for each step, so no output,
  and no marker seen earlier (``set -v`` echoes the control line into the session log), can pass
  for the end of a later step.
* **Short steps in a row go in a batch** (:meth:`BashSession.queue`): one control file holds
  the lines of several steps, each line as above, so bash goes from one step to the next
  without waiting for this process, which meanwhile takes each result as its marker comes
  (:meth:`BashSession.run`, as for a step sent alone). Each step keeps its file, its FIFO,
  its marker and its abort file. A batch never runs a step a run of single steps would not
  have run: a step whose exit status the runner judges stops the batch in bash unless it
  exits 0 (``case $?``, which neither sets a variable nor turns a ``set -e`` off); a timeout,
  a step asked for out of order or the end of the session first create the batch's halt
  file, which every line tests before its step, and then wait for the batch's own end marker.
  Interrupted, bash may be a few short steps past the one this process waits for: those
  ran, and :meth:`BashSession.stop_batch` says so; the step bash was in is the interrupted
  one.
* End of file on the control pipe instead of a marker means the step ended the shell (``exit``,
  ``exec``, ``kill $$``): reported as such, never waited for beyond the step's deadline (an
  ``exec sleep 3000`` is stopped at its timeout like any step). The shell's EXIT trap saves the
  exported variables, the functions and the working directory first, and the next step starts a
  fresh shell from them (unexported variables are lost; ``exec`` and ``kill -9 $$`` skip EXIT
  traps: :attr:`StepRun.state_saved` says whether this exit saved anything).
* ``set -m`` puts every foreground command and every ``&`` job of the shell in a process group
  of its own, so a timeout can kill the step's process groups without killing the shell, and
  the step's USR1 trap, which returns 124 from the sourced step only when this step's abort file
  exists, then makes it return at once: the remaining lines do not run, the state set before the
  kill is kept. A late USR1 can never cut short the next step: its trap tests another file.
* Background steps run as ``source STEPFILE </dev/null >>LOG 2>&1 &``: a job with a process
  group of its own (its pgid is its pid, ``$!``), stopped with its whole group by :meth:`close`.
  Its log is trimmed to a bounded tail while the run goes on.

The session is a plain :class:`subprocess.Popen` with pipes rather than an ``sh`` command: the
control protocol needs the raw descriptors (a write per step, ``select`` + ``os.read``, no reader
thread), which is what keeps a trivial step well under a millisecond.

Process control (``/proc``, the subreaper, ending process trees) lives in
:mod:`meshdemo.run.processes`: :meth:`close` ends every process the session started.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import select
import shlex
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from meshdemo.run.output import KEPT_OUTPUT, OutputTail
from meshdemo.run.processes import (
    CLK_TCK,
    Proc,
    boot_ticks,
    descendants,
    hold_subreaper,
    is_alive,
    processes,
    release_subreaper,
    send_signal,
    terminate,
)
from meshdemo.status import Outcome

START_TIMEOUT = 10.0  # seconds for a new shell to answer
ABORT_GRACE = 3.0  # seconds for a killed step's shell to answer before it is killed too
ABORT_RETRY = 0.1  # seconds between two rounds of an abort (USR1, then the step's processes)
TICK = 0.25  # seconds between ``tick`` calls while a step runs
TRIM_EVERY = 1.0  # seconds between trims of the background steps' logs
READ_SIZE = 1 << 16
# After sending a step (and doing the caller's work meanwhile, which takes about as long as a
# trivial step: a trivial step often is not done yet), while steps end this fast, its end is
# awaited by polling for up to SPIN seconds before sleeping in select: waking a process on an
# idle CPU of a virtual machine takes tens of microseconds, a good part of a trivial step.
# Only with another CPU free for bash: on one CPU, polling would hold it while bash waits.
SPIN = 0.0002
QUICK_STEP = 0.002  # seconds: a step that ended within this lets the next one poll
# seconds: steps in a row that end within this go to bash in batches (see queue): the round
# trip a batch saves (0.1 to 0.2 ms) is a share of a step worth saving up to tens of milliseconds
SHORT_STEP = 0.05
_SPARE_CPU = len(os.sched_getaffinity(0)) > 1 if hasattr(os, "sched_getaffinity") else False
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")  # what a step's file name may not hold
_READONLY = re.compile(r"^declare -([A-Za-z]*)r([A-Za-z]*) ", re.MULTILINE)


@dataclass
class StepRun:
    """What the session recorded of one step."""

    outcome: str
    status: int | None  # exit status (124 after a timeout/stop, the shell's after shell-exited)
    output: str  # the tail of what it printed (raw: not yet masked, see meshdemo.run.output)
    started_at: str  # ISO 8601, UTC
    duration: float  # seconds
    pgid: int | None = None  # background steps: the job's process group
    log: Path | None = None  # background steps: where the output goes
    step_file: str | None = None  # the file the step ran from (bash names it in errors)
    dropped: int = 0  # bytes of output left out before ``output``
    shell_ended: bool = False  # the shell is gone: the next step starts a new one
    state_saved: bool = False  # (shell_ended) its exit saved the state the new shell starts from


def _bash_time(ended: str) -> float | None:
    """bash's EPOCHREALTIME (its decimal point the locale's) as a time.time(); None when it
    is no time (empty, or a variable a step unset and set again)."""
    try:
        return float(ended.replace(",", "."))
    except ValueError:
        return None


def _since(wall_start: float, ended: str) -> float:
    """Seconds from ``wall_start`` (time.time()) to ``ended`` (:func:`_bash_time`); infinity
    when ``ended`` is no time after it."""
    at = _bash_time(ended)
    return at - wall_start if at is not None and at >= wall_start else float("inf")


def _iso(wall: float) -> str:
    """A time.time() as a step's ``started_at`` (ISO 8601, UTC, milliseconds)."""
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")


def _marker_value(value: str) -> tuple[int | None, str]:
    """A step's exit status and bash's time at its end, from what follows its marker."""
    exit_status, _, ended = value.partition(" ")
    return (int(exit_status) if exit_status.lstrip("-").isdigit() else None), ended


def scratch_dir(prefix: str = "meshdemo-") -> Path | None:
    """A new private folder in memory (/dev/shm), or None where there is none.

    A step costs a few file creations (its step file, its output FIFO); on some disks a
    creation costs ~0.3 ms, on tmpfs ~0.03 ms, and nothing in these files outlives the step.
    """
    import tempfile

    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK | os.X_OK)):
        return None
    try:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=shm))
    except OSError:
        return None


_LIVE_SHELLS: set[int] = set()  # shells of the sessions open in this process


class _Queued(NamedTuple):
    """A step sent ahead (:meth:`BashSession.queue`), until :meth:`BashSession.run` takes it."""

    command: str
    name: str
    seq: int
    step_file: str
    output: StepOutput
    marker: str
    gated: bool  # the batch stops after it unless it exits 0


class SessionError(RuntimeError):
    """The shell could not be started or stopped answering."""


F_SETPIPE_SZ = 1031  # fcntl: a pipe's capacity (Linux)
PIPE_CAPACITY = 1 << 20  # what a step may write before it waits for us to read
DRAIN_EVERY = 0.05  # seconds between reads of a step's output while the pipe has room


class StepOutput:
    """The read end of a step's output FIFO and the tail it feeds.

    Its pipe is made large (:data:`PIPE_CAPACITY`), so a step that prints less than that never
    waits for us and we need not wake at every write: the output is read every
    :data:`DRAIN_EVERY` seconds and when the step ends. Once a read finds the pipe half full,
    the output is read as soon as it comes (``eager``): a step that prints without end is
    slowed to the pace at which we keep its tail, never blocked.

    Until the step has ended (:meth:`release`) this process holds a write end of the FIFO too:
    a read of a FIFO that no writer has opened yet says end of file, and the shell opens it
    only when it starts the step, after the first reads may have come.
    """

    def __init__(self, path: str):
        self.path = path
        self.quoted_path = shlex.quote(path)  # as the control's redirection names it
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            import fcntl

            self.capacity = fcntl.fcntl(self.fd, F_SETPIPE_SZ, PIPE_CAPACITY)
        except OSError:
            self.capacity = 0
        self.keeper: int | None = None
        self.begin()

    def begin(self) -> None:
        """Ready for a step: a new tail, and a write end held until the step ends. Also for
        the FIFO of an earlier step that no process holds any more (:attr:`idle`), which the
        next step reuses: a FIFO a step costs a handful of file-system calls."""
        self.keeper = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.tail = OutputTail()
        self.eager = self.capacity < PIPE_CAPACITY
        self.eof = False

    @property
    def idle(self) -> bool:
        """Read to its end and held by no process: nothing can write into it any more."""
        return self.eof and self.keeper is None

    def drain(self) -> None:
        """Read what the pipe holds now (never waits)."""
        if self.eof:
            return
        got = 0
        while True:
            try:
                chunk = os.read(self.fd, READ_SIZE)
            except BlockingIOError:
                break
            if not chunk:
                self.eof = True  # every writer closed it
                break
            self.tail.add(chunk)
            got += len(chunk)
        if got * 2 >= self.capacity:
            self.eager = True

    def release(self) -> None:
        """The step has ended: from now on, the end of file is the last writer's."""
        if self.keeper is not None:
            os.close(self.keeper)
            self.keeper = None


def _builtin(words: str) -> str:
    return f"\\builtin {words}"


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class BashSession:
    """A bash process that keeps its state from one step to the next.

    ``workdir`` receives the step files, the output FIFOs, the background logs and the saved
    state; ``cwd`` and ``env`` are the shell's starting directory and environment.
    ``state``: a state file saved by an earlier session (:attr:`saved_state`) to start from
    (how ``meshdemo run --from`` resumes); ``pinned``: names of ``env`` whose values win over
    what that state restores (the run's own KUBECONFIG, ids, paths); ``on_start``: called with
    the pid of each shell started.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        bash: str = "bash",
        state: Path | None = None,
        pinned: Iterable[str] = (),
        on_start: Callable[[int], None] | None = None,
    ):
        self.workdir = Path(workdir)
        self.on_start = on_start  # told the pid of every shell started (the run's ownership)
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self.env = dict(os.environ if env is None else env)
        self.bash = bash
        self._seq = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self.backgrounds: dict[int, Path] = {}  # pgid -> log of running background steps
        self._background_tails: dict[int, OutputTail] = {}  # pgid -> what trimming kept
        self._strays: list[int] = []  # FIFOs of ended steps still held by a process they left
        self._idle_outputs: list[StepOutput] = []  # FIFOs of ended steps, for the next ones
        self._queue: deque[_Queued] = deque()  # steps sent ahead (see queue), in order
        self._batch_end: str | None = None  # the marker that ends the batch sent (see queue)
        self._halt: str | None = None  # the file that stops the batch sent at its next step
        self._batch_clock = 0.0  # time.time() when the batch's next step began
        self._batch_since = 0  # boot_ticks() when the batch was sent
        self._last_trim = 0.0
        self.pinned = tuple(pinned)
        self._running: int | None = None  # the sequence number of the step running now
        self._quick = True  # the last step ended within QUICK_STEP (see SPIN)
        self.short_streak = 0  # steps in a row that ended within SHORT_STEP (see queue)
        self.subreaper = hold_subreaper(id(self))
        self._children_before = {p.pid for p in processes().values() if p.ppid == os.getpid()}
        self._dirs = {sub: str(self.workdir / sub) for sub in ("steps", "out", "logs")}
        for folder in self._dirs.values():
            os.makedirs(folder, exist_ok=True)
        folders = {**self._dirs, "abort": str(self.workdir)}
        self._quoted_dirs = {sub: shlex.quote(f"{folder}/") for sub, folder in folders.items()}
        # the control of the step running now: one file, rewritten for each step (bash has
        # read it whole before the step's marker comes). bash reads the line that sources it
        # a byte at a time, a system call each (~1.5 µs on a virtual machine): hence a short
        # name, and `.` for `source`
        self._control = str(self.workdir / "run")
        self._source_control = f"{_builtin('.')} {shlex.quote(self._control)}\n"
        self._state_file = self.workdir / "state.sh"
        self._state_file.unlink(missing_ok=True)
        if state is not None and Path(state).is_file():
            # readonly attributes are not restored: the run's pinned variables must stay settable
            text = Path(state).read_text(encoding="utf-8", errors="surrogateescape")
            self._state_file.write_text(
                _READONLY.sub(lambda m: f"declare -{m.group(1)}{m.group(2)} ", text).replace(
                    "declare - ", "declare -- "
                ),
                encoding="utf-8",
                errors="surrogateescape",
            )

    @property
    def saved_state(self) -> Path:
        """Where the shell's EXIT trap saves its state (exported variables, functions, cwd)."""
        return self._state_file

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> BashSession:
        if self.alive:
            return self
        self._stop_shell()  # what is left of a shell that ended
        self._buffer = b""
        with open(self.workdir / "session.log", "ab") as log:
            # start_new_session: Ctrl-C at the terminal reaches only us; we stop the shell's
            # processes ourselves, in order, instead of racing them.
            self._proc = subprocess.Popen(
                [self.bash, "--noprofile", "--norc"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
            )
        _LIVE_SHELLS.add(self._proc.pid)
        if self.on_start is not None:
            self.on_start(self._proc.pid)
        q = shlex.quote
        state = q(str(self._state_file))
        save = (
            "{ "
            + _builtin("export -p; ")
            + _builtin("declare -f; ")
            + _builtin('printf "cd %q\\n" "$PWD"; } >')
            + state
            + " 2>/dev/null"
        )
        prologue = [
            "set -m",
            "set -o pipefail",
            _builtin(f"trap {q(save)} EXIT"),
            # a USR1 before the first step's own trap is harmless (see run)
            _builtin("trap : USR1"),
        ]
        if self._state_file.exists():
            prologue.append(_builtin(f"source {state} >/dev/null 2>&1"))
            for name in self.pinned:
                value = self.env.get(name)
                prologue.append(
                    _builtin(f"export {name}={q(value)}")
                    if value is not None
                    else _builtin(f"unset {name}")
                )
        marker = secrets.token_hex(16)
        prologue.append(_builtin(f"printf '%s %s\\n' {marker} ready"))
        self._send("\n".join(prologue) + "\n")
        try:
            answer = self._read_marker(marker, time.monotonic() + START_TIMEOUT)
        except TimeoutError:
            answer = None
        if answer != "ready":
            self._stop_shell()
            raise SessionError(f"{self.bash} did not start (see {self.workdir / 'session.log'})")
        return self

    def restart(self) -> BashSession:
        """A fresh shell after the last one ended, from its saved state (see the module doc)."""
        self._stop_shell()
        return self.start()

    def close(self) -> None:
        """Stop background steps, the shell, and every process the session started."""
        try:
            self.stop_backgrounds()
        finally:
            try:
                self._stop_shell()
                self.kill_leftovers()
            finally:
                self._close_idle_output()
                for fd in self._strays:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                self._strays.clear()
                release_subreaper(id(self))

    def __enter__(self) -> BashSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _abort_file(self, seq: int) -> Path:
        return self.workdir / f"abort-{seq}"

    def _stop_shell(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        _LIVE_SHELLS.discard(proc.pid)
        if proc.poll() is None:
            if self._running is not None or self._queue:
                # interrupted mid-step (Ctrl-C): the step's remaining lines must not run, nor
                # those of a step of its batch that bash may have gone on to
                self._touch_halt()
                for seq in (self._running, *(q.seq for q in self._queue)):
                    if seq is not None:
                        self._abort_file(seq).touch()
                send_signal(proc.pid, signal.SIGUSR1, group=False)
                self._running = None
            terminate(descendants(proc.pid), protect={proc.pid})
            with contextlib.suppress(OSError):
                proc.stdin.close()  # type: ignore[union-attr]
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                send_signal(proc.pid, signal.SIGKILL, group=True)
                proc.wait()
        for stream in (proc.stdin, proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
        self._drop_queue()
        self._batch_end = self._halt = None

    def kill_leftovers(self) -> None:
        """End every process started since the session began: the shell's descendants and the
        orphans reparented to us (escaped ``setsid nohup`` processes and their children).

        An orphan is told from a child this process started itself (a test's server, a
        browser) by its session: orphans come from the shell's session (the shell runs in one
        of its own) or from a ``setsid`` of their own, never from ours.
        """
        table = processes()
        me = os.getpid()
        ours = os.getsid(0)
        shell = self._proc.pid if self._proc else None
        roots = [
            p.pid
            for p in table.values()
            if p.ppid == me
            and p.sid != ours
            and p.pid not in self._children_before
            and p.pid not in _LIVE_SHELLS
        ]
        victims: dict[int, Proc] = {}
        for root in roots:
            victims[root] = table[root]
            for proc in descendants(root, table):
                victims[proc.pid] = proc
        if shell:
            for proc in descendants(shell, table):
                victims[proc.pid] = proc
        protect = {shell} if shell else set()
        terminate(list(victims.values()), protect=protect)

    # -- reading ------------------------------------------------------------------------------

    def _send(self, text: str) -> None:
        assert self._proc and self._proc.stdin
        # a shell that is gone shows as the end of file in the read that follows
        with contextlib.suppress(BrokenPipeError):
            os.write(self._proc.stdin.fileno(), text.encode())

    def _read_marker(
        self,
        marker: str,
        deadline: float | None,
        tick: Callable[[], None] | None = None,
        output: StepOutput | None = None,
        spin: float = 0.0,
    ) -> str | None:
        """The value after ``marker`` on the shell's stdout; None at its end of file.

        TimeoutError at ``deadline``. Meanwhile the step's ``output`` is read (see
        :class:`StepOutput`), the FIFOs of ended steps are drained, background logs trimmed.
        ``spin``: seconds to poll for the shell's answer before the first sleep (see SPIN).
        """
        assert self._proc and self._proc.stdout
        fd = self._proc.stdout.fileno()
        token = f"{marker} ".encode()
        poll_until = time.monotonic() + spin if spin else 0.0
        last_look = False
        while True:
            start = self._buffer.find(token)
            if start != -1:
                end = self._buffer.find(b"\n", start)
                if end != -1:
                    value = self._buffer[start + len(token) : end].decode(errors="replace")
                    self._buffer = self._buffer[end + 1 :]
                    return value
            wait: float | None = None
            now = time.monotonic()
            if deadline is not None:
                wait = deadline - now
                if wait <= 0:
                    if last_look:
                        raise TimeoutError
                    # one more look at what the shell wrote: a marker already there (a step
                    # of a batch this process came to late) is an end in time
                    last_look, wait = True, 0.0
            if tick is not None:
                wait = TICK if wait is None else min(wait, TICK)
            if self.backgrounds:
                if now - self._last_trim >= TRIM_EVERY:
                    self._trim_backgrounds()
                    self._last_trim = now
                wait = TRIM_EVERY if wait is None else min(wait, TRIM_EVERY)
            watched = [fd, *self._strays]
            if output is not None and not output.eof:
                if output.eager:
                    watched.append(output.fd)
                else:
                    wait = DRAIN_EVERY if wait is None else min(wait, DRAIN_EVERY)
            polling = now < poll_until
            ready, _, _ = select.select(watched, [], [], 0 if polling else wait)
            if output is not None and (output.fd in ready or not (output.eager or polling)):
                output.drain()  # (while polling, what the step printed waits for its end)
            if not ready:
                if tick is not None and not polling:
                    tick()
                continue
            for ready_fd in ready:
                if ready_fd == fd:
                    chunk = os.read(fd, READ_SIZE)
                    if not chunk:
                        return None
                    self._buffer += chunk
                elif output is None or ready_fd != output.fd:
                    self._drain_stray(ready_fd)

    def _drain_stray(self, fd: int) -> None:
        """Output of a process an ended step left behind (``cmd &``): read and dropped, so it
        never blocks on a full pipe nor lands in another step's output."""
        try:
            while chunk := os.read(fd, READ_SIZE):
                if len(chunk) < READ_SIZE:
                    return
        except BlockingIOError:
            return
        self._strays.remove(fd)
        os.close(fd)

    def _finish_output(self, output: StepOutput) -> None:
        """After the step: what is left in its FIFO. A FIFO that no process holds any more
        serves the next step; one that a process the step started still holds is kept
        drained, and the next step gets a new one."""
        output.release()
        output.drain()
        if output.idle:
            self._idle_outputs.append(output)
        else:
            self._strays.append(output.fd)
            _unlink(output.path)

    def _output_for(self, stem: str) -> StepOutput:
        """The FIFO the next step prints into: the last one when it is idle, else a new one."""
        while self._idle_outputs:
            output = self._idle_outputs.pop()
            try:
                output.begin()
                return output
            except OSError:  # its file is gone (a step removed it): a new one
                os.close(output.fd)
        path = f"{self._dirs['out']}/{stem}"
        os.mkfifo(path, 0o600)
        return StepOutput(path)

    def _close_idle_output(self) -> None:
        while self._idle_outputs:
            output = self._idle_outputs.pop()
            with contextlib.suppress(OSError):
                os.close(output.fd)
            _unlink(output.path)

    # -- running steps ------------------------------------------------------------------------

    def _new_stem(self, name: str) -> tuple[int, str]:
        """The next step's number and file stem (``0007-install-crds``: safe in a shell word)."""
        self._seq += 1
        safe = _UNSAFE.sub("_", name)[:60] or "step"
        return self._seq, f"{self._seq:04d}-{safe}"

    def _write_step(self, stem: str, command: str) -> str:
        """The step file."""
        path = f"{self._dirs['steps']}/{stem}.sh"
        self._write_file(path, command if command.endswith("\n") else command + "\n")
        return path

    @staticmethod
    def _write_file(path: str, text: str) -> None:
        """A file of the session (a few microseconds of file work, no pathlib)."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)

    def _control_of(
        self, seq: int, step_file: str, output: StepOutput, marker: str, gated: bool = False
    ) -> str:
        """The line of the control file that runs one step (see the module doc). ``gated``: a
        step of a batch (see :meth:`queue`) that the rest of the batch must not follow unless
        it exits 0."""
        quoted = self._quoted_dirs  # the folders, quoted once; stems need no quoting
        trap = shlex.quote(f"[[ -e {quoted['abort']}abort-{seq} ]] && {_builtin('return 124')}")
        # `jobs` first, output discarded: it consumes bash's reports of jobs that ended since
        # the last step ("[1]+  Terminated  sleep 60"), which bash would otherwise print into
        # this step's output. Only once the shell has started one (`$!` is set): its
        # redirections cost a dozen system calls a step
        line = (
            f"{_builtin(f'trap {trap} USR1')};"
            f' {_builtin("test")} -z "${{!-}}" || {_builtin("jobs")} >/dev/null 2>&1;'
            f" {_builtin('source')} {shlex.quote(step_file)} </dev/null >{output.quoted_path} 2>&1;"
        )
        # the marker carries when the step ended, by bash's clock: this process may be busy
        # (``meanwhile``) when it ends. Empty where bash has no EPOCHREALTIME (before 5.0, or a
        # step unset it): then the time the marker is read
        end = f"{_builtin('printf')} '%s %s %s\\n' {marker}"
        if not gated:
            return f'{line} {end} "$?" "${{EPOCHREALTIME-}}"\n'
        # `case` reads the status without setting a variable (a step may make them all
        # readonly), and keeps it in `$?` for the marker; a plain list, not `source … ||`,
        # which would turn off a `set -e` the steps set
        return (
            f'{line} case $? in 0) {end} 0 "${{EPOCHREALTIME-}}";;'
            f' *) {end} "$?" "${{EPOCHREALTIME-}}"; {_builtin("return")};; esac\n'
        )

    @property
    def queued(self) -> int:
        """Steps of the batch sent that :meth:`run` has not taken yet."""
        return len(self._queue)

    def queue(self, steps: Sequence[tuple[str, str, bool]]) -> None:
        """Send ``steps`` (command, name, gated) to the shell at once, to run one after the
        other without waiting for us: :meth:`run` then takes each in this order, as if it
        sent it, and its result comes as soon as the step ends.

        One control file runs them all; a gated step that does not exit 0 ends the batch
        there, as does any step once the batch's halt file exists (:meth:`_halt_batch`: a
        timeout, an interrupted run, a step asked for out of order). The batch ends with a
        marker of its own, so that nothing is sent to the shell before it is done.
        """
        if self._queue or not steps:
            raise SessionError("a batch of steps is already queued" if self._queue else "no steps")
        if not self.alive:
            self.start()
        lines: list[str] = []
        first = self._seq + 1
        self._halt = f"{self.workdir}/halt-{first}"
        halt = shlex.quote(self._halt)
        for command, name, gated in steps:
            seq, stem = self._new_stem(name)
            step_file = self._write_step(stem, command)
            output = self._output_for(stem)
            marker = secrets.token_hex(16)
            self._queue.append(_Queued(command, name, seq, step_file, output, marker, gated))
            control = self._control_of(seq, step_file, output, marker, gated)
            lines.append(f"{_builtin('test')} -e {halt} && {_builtin('return')}; {control}")
        self._write_file(self._control, "".join(lines))
        self._batch_clock = time.time()
        self._batch_since = boot_ticks()
        self._batch_end = secrets.token_hex(16)
        self._send(
            f"{self._source_control.rstrip()}; {_builtin('printf')} '%s end\\n' {self._batch_end}\n"
        )

    def _take_queued(self, command: str, name: str, stream: float | None) -> _Queued | None:
        """The step at the head of the batch, when it is the one asked for; a batch whose
        head is another is stopped first (:meth:`_halt_batch`)."""
        if not self._queue:
            return None
        head = self._queue[0]
        if head.command == command and head.name == name and stream is None:
            self._queue.popleft()
            return head
        self._halt_batch()
        return None

    def _halt_batch(self) -> None:
        """Stop the batch sent: its steps not yet begun do not run; wait for its end marker
        (the step running then ends first). A shell that does not come to it within
        :data:`ABORT_GRACE` is stopped, with all it runs."""
        self._touch_halt()
        self._drop_queue()
        end, self._batch_end = self._batch_end, None
        if end is None or not self.alive:
            return
        try:
            found = self._read_marker(end, time.monotonic() + ABORT_GRACE)
        except TimeoutError:
            found = None
        if found is None:
            self._stop_shell()

    def stop_batch(self) -> list[tuple[str, StepRun | None]]:
        """Stop the batch sent, now (an interrupted or broken-off run): the step bash is in is
        stopped as at a timeout, the steps after it do not begin. Returns, in order, the steps
        of the batch that ran, by name: with what they did, or None for the step that was
        stopped; the steps that had not begun are left out. bash may have ended several short
        steps past the one this process was waiting for: they ran, and the run reports them."""
        if not self._queue or not self.alive:
            self._drop_queue()
            return []
        assert self._proc
        shell = self._proc.pid
        self._touch_halt()
        for step in self._queue:
            self._abort_file(step.seq).touch()
        signalled_at = time.time()
        send_signal(shell, signal.SIGUSR1, group=False)
        terminate(
            [p for p in self._step_processes(shell) if p.start >= self._batch_since],
            protect={shell},
        )
        end = self._batch_end
        deadline = time.monotonic() + ABORT_GRACE
        ended: list[tuple[str, StepRun | None]] = []
        while self._queue and end is not None:
            step = self._queue[0]
            # whichever comes first: this step's marker, or the batch's end
            token = step.marker.encode()
            where = self._buffer.find(token)
            stop_at = self._buffer.find(end.encode())
            if where == -1 or (stop_at != -1 and stop_at < where):
                if stop_at != -1 or not self._read_more(deadline, step.output):
                    break
                continue
            line_end = self._buffer.find(b"\n", where)
            if line_end == -1:
                if not self._read_more(deadline, step.output):
                    break
                continue
            value = self._buffer[where + len(token) + 1 : line_end].decode(errors="replace")
            self._buffer = self._buffer[line_end + 1 :]
            self._queue.popleft()
            self._finish_output(step.output)
            status, stamp = _marker_value(value)
            began = self._batch_clock
            duration = _since(began, stamp)
            if duration == float("inf"):  # no time from bash: none is made up
                duration = 0.0
            self._batch_clock = began + duration
            # 124 is what the signal's trap returns, and what `timeout` returns: a step that
            # ended before the signal was sent, or one bash went past, ended by itself
            ended_at = _bash_time(stamp)
            if status == 124 and not (
                self._queue_ran_past(step) or (ended_at is not None and ended_at < signalled_at)
            ):
                ended.append((step.name, None))  # the step the signal stopped
                continue
            ended.append(
                (
                    step.name,
                    StepRun(
                        outcome=Outcome.EXITED,
                        status=status,
                        output=step.output.tail.text(),
                        started_at=_iso(began),
                        duration=duration,
                        step_file=step.step_file,
                        dropped=step.output.tail.dropped,
                    ),
                )
            )
        self._drop_queue()
        self._batch_end = None
        return ended

    def _queue_ran_past(self, step: _Queued) -> bool:
        """Did bash begin a step after ``step`` (its marker is there)? Then ``step`` ended
        by itself before the stop, whatever its status."""
        return any(later.marker.encode() in self._buffer for later in self._queue)

    def _read_more(self, deadline: float, output: StepOutput) -> bool:
        """Read what the shell writes next into the buffer, draining ``output`` meanwhile;
        False at ``deadline`` or at the shell's end of file."""
        assert self._proc and self._proc.stdout
        fd = self._proc.stdout.fileno()
        while (wait := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd, output.fd], [], [], min(wait, DRAIN_EVERY))
            if output.fd in ready:
                output.drain()
            if fd in ready:
                chunk = os.read(fd, READ_SIZE)
                if not chunk:
                    return False
                self._buffer += chunk
                return True
        return False

    def _after_queued(
        self, step: _Queued, outcome: str, status: int | None, shell_ended: bool
    ) -> None:
        """The batch after one of its steps: over when the shell ended, when the step stopped
        it (a gated step that did not exit 0), or after a timeout (its halt file stopped it)."""
        if not shell_ended and outcome != Outcome.EXITED:
            self._halt_batch()
        elif shell_ended or not self._queue or (step.gated and status != 0):
            self._drop_queue()
            self._batch_end = None  # (bash prints it at once: read past with the next marker)

    def _touch_halt(self) -> None:
        if self._halt is not None:
            with contextlib.suppress(OSError):
                os.close(os.open(self._halt, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))

    def _drop_queue(self) -> None:
        """Forget the steps of the batch that will not run: their FIFOs serve later steps."""
        while self._queue:
            left = self._queue.popleft()
            _unlink(left.step_file)
            self._finish_output(left.output)

    def run(
        self,
        command: str,
        *,
        name: str = "step",
        timeout: float | None = None,
        stream: float | None = None,
        tick: Callable[[], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> StepRun:
        """Run ``command`` as one step; stop it after ``timeout`` seconds, whatever it does.

        ``stream``: stop the step after that many seconds and call it done (outcome STOPPED)
        unless it ended by itself before. ``tick`` is called about 4 times a second while
        the step runs (live progress). ``meanwhile`` is called once the step is sent, while
        bash runs it (work of the caller's that need not wait: recording the last step); an
        error it raises is raised once the step ended, a Ctrl-C at once. A step at the head of
        the batch sent (:meth:`queue`) is not sent again: its result is awaited.
        """
        queued = self._take_queued(command, name, stream)
        if queued is None:
            if not self.alive:
                self.start()
            seq, stem = self._new_stem(name)
            step_file = self._write_step(stem, command)
            output = self._output_for(stem)
            marker = secrets.token_hex(16)
        else:
            seq, step_file, output, marker = (
                queued.seq,
                queued.step_file,
                queued.output,
                queued.marker,
            )
        wall_start = time.time()
        since = boot_ticks()
        begin = time.monotonic()
        if queued is not None:
            # it began when the step before it ended, by bash's clock (or when the batch was
            # sent): this process may have come to it later. Its processes (those a timeout
            # stops) are those started since then, a clock tick early at most
            lag = max(0.0, wall_start - self._batch_clock)
            begin -= lag
            since = max(self._batch_since, since - int(lag * CLK_TCK) - 1)
            wall_start = self._batch_clock
        started_at = _iso(wall_start)
        limit = stream if stream is not None else timeout
        deadline = None if limit is None else begin + limit
        if queued is None:
            self._write_file(self._control, self._control_of(seq, step_file, output, marker))
            # bash reads a command from a pipe a byte at a time (so that it never takes input
            # meant for the commands it starts): a short line to source the control file,
            # which it reads whole, instead of the control itself, saves it ~300 reads a step
            self._send(self._source_control)
        outcome = Outcome.EXITED
        self._running = seq
        shell_ended = False
        spin = SPIN if self._quick and _SPARE_CPU else 0.0
        failed_meanwhile: Exception | None = None
        try:
            if meanwhile is not None:
                try:
                    meanwhile()
                except Exception as error:  # the step runs on: it was sent
                    failed_meanwhile = error
            value = self._read_marker(marker, deadline, tick, output, spin)
            if value is None:
                outcome, shell_ended = Outcome.SHELL_EXITED, True
                if not self._wait_shell(deadline, output):
                    # the step replaced the shell (exec) and outlived its deadline
                    outcome = Outcome.STOPPED if stream is not None else Outcome.TIMED_OUT
        except TimeoutError:
            outcome = Outcome.STOPPED if stream is not None else Outcome.TIMED_OUT
            if queued is not None:
                self._touch_halt()  # before the step ends: the batch must not go on
            value = self._abort(seq, marker, since, tick, output)
            shell_ended = value is None
        except BaseException:
            if queued is not None:
                # back at the head of its batch, for stop_batch to tell how it ended
                self._queue.appendleft(queued)
                self._running = None
                raise
            # Ctrl-C, an error of ours: the read end stays open until the session closes (a
            # shell writing into a FIFO nobody reads would die of SIGPIPE before saving state)
            # (_running stays set for _stop_shell)
            output.release()
            self._strays.append(output.fd)
            _unlink(output.path)
            raise
        self._running = None
        self._finish_output(output)
        duration = time.monotonic() - begin
        status: int | None
        if shell_ended:
            status = self._shell_status()
        else:
            assert value is not None
            status, ended = _marker_value(value)
            if meanwhile is not None or queued is not None:  # the marker may be read late
                duration = min(duration, _since(wall_start, ended))
            if queued is not None:
                self._batch_clock = wall_start + duration
        if queued is not None:
            self._after_queued(queued, outcome, status, shell_ended)
        self._quick = duration < QUICK_STEP
        self.short_streak = self.short_streak + 1 if duration < SHORT_STEP else 0
        if failed_meanwhile is not None:
            raise failed_meanwhile
        return StepRun(
            outcome=outcome,
            status=124 if outcome == Outcome.TIMED_OUT else status,
            output=output.tail.text(),
            started_at=started_at,
            duration=duration,
            step_file=step_file,
            dropped=output.tail.dropped,
            shell_ended=shell_ended,
            state_saved=shell_ended and self._saved_since(wall_start),
        )

    def _saved_since(self, wall_start: float) -> bool:
        try:
            return self._state_file.stat().st_mtime >= wall_start - 0.01
        except OSError:
            return False

    def _shell_status(self) -> int | None:
        """The exit status of a shell that ended (the shell's convention for a signal)."""
        proc = self._proc
        if proc is None:
            return None
        status = proc.poll()
        self._stop_shell()
        if status is not None and status < 0:
            status = 128 - status
        return status

    def _wait_shell(self, deadline: float | None, output: StepOutput) -> bool:
        """Wait for a shell whose control pipe closed to end, reading the step's output; True
        once it ended. At ``deadline`` it is killed with everything in its session (what
        ``exec`` put in its place), and False says so."""
        assert self._proc is not None
        proc = self._proc
        while proc.poll() is None:
            wait = 0.05
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    terminate([p for p in processes().values() if p.sid == proc.pid], protect=set())
                    proc.wait()
                    return False
                wait = min(wait, left)
            if output.eof:
                time.sleep(wait)
            else:
                select.select([output.fd], [], [], wait)
                output.drain()
        return True

    def _abort(
        self,
        seq: int,
        marker: str,
        since: int,
        tick: Callable[[], None] | None,
        output: StepOutput,
    ) -> str | None:
        """Kill the running step's processes, then make the sourced step return 124.

        The marker that follows is returned; None when the shell had to be killed too (it did
        not answer within :data:`ABORT_GRACE`): the next step starts a new shell.
        """
        assert self._proc
        shell = self._proc.pid
        abort_file = self._abort_file(seq)
        abort_file.touch()
        grace_ends = time.monotonic() + ABORT_GRACE
        killed: dict[int, Proc] = {}
        value = None
        # Repeated until the marker comes: a deadline that passes before bash has begun the
        # step finds nothing to kill, and its USR1 reaches bash before the step's trap is set;
        # the next round catches the step once it has started.
        while True:
            victims = [
                p
                for p in self._step_processes(shell)
                if p.start >= since or p.pgid == shell  # started by this step (or its subshell)
            ]
            killed.update((p.pid, p) for p in victims)
            # USR1 first: bash holds the trap until the foreground command ends, then returns
            # from the step. Killing first would let the step's next line start before USR1.
            send_signal(shell, signal.SIGUSR1, group=False)
            terminate(victims, protect={shell})
            try:
                value = self._read_marker(
                    marker, min(grace_ends, time.monotonic() + ABORT_RETRY), tick, output
                )
                break
            except TimeoutError:
                if time.monotonic() >= grace_ends:
                    break
        abort_file.unlink(missing_ok=True)
        if value is None:
            # the shell itself is stuck (or gone): end it and all it holds
            terminate([p for p in processes().values() if p.sid == shell], protect=set())
            self._running = None
            return None
        # Wait until bash has reaped the jobs it lost: it reports a killed job ("[1]+
        # Terminated") when it reaps it, into whatever output is redirected at that moment;
        # reaped now, while it waits for input, the report goes to the session log instead of
        # into the next step's output.
        jobs = [p.pid for p in killed.values() if p.ppid == shell]
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            if not any(os.path.exists(f"/proc/{pid}") for pid in jobs):
                break
            time.sleep(0.005)
        return value

    def _step_processes(self, shell: int) -> list[Proc]:
        """The shell's descendants, minus the subtrees of running background steps."""
        table = processes()
        skip = set(self.backgrounds)
        found = []
        for proc in descendants(shell, table):
            if proc.pgid in skip or proc.pid in skip:
                skip.add(proc.pid)  # its children too
                continue
            if proc.ppid in skip:
                skip.add(proc.pid)
                continue
            found.append(proc)
        return found

    # -- background steps ---------------------------------------------------------------------

    def run_background(self, command: str, *, name: str = "step", check: float = 0.3) -> StepRun:
        """Start ``command`` as a job of its own; see after ``check`` seconds whether it lives.

        A job that already ended by then reports its exit status (outcome EXITED); one still
        running reports STARTED with its process group and log file.
        """
        if self._queue:
            self._halt_batch()
        if not self.alive:
            self.start()
        _, stem = self._new_stem(name)
        step_file = self._write_step(stem, command)
        log = self.workdir / "logs" / f"{stem}.log"
        started_at = _iso(time.time())
        begin = time.monotonic()
        q = shlex.quote
        marker = secrets.token_hex(16)
        # >> (append): trimming the log (see _trim_backgrounds) makes the job write at its start
        self._send(
            f"{_builtin('source')} {q(step_file)} </dev/null >>{q(str(log))} 2>&1 &"
            f" {_builtin('printf')} '%s %s\\n' {marker} \"$!\"\n"
        )
        value = self._read_marker(marker, time.monotonic() + START_TIMEOUT)
        if value is None or not value.isdigit():
            return StepRun(
                Outcome.SHELL_EXITED,
                self._shell_status(),
                "",
                started_at,
                time.monotonic() - begin,
                shell_ended=True,
            )
        pgid = int(value)
        self.backgrounds[pgid] = log
        end = time.monotonic() + check
        while time.monotonic() < end and is_alive(pgid):
            time.sleep(0.02)
        if not is_alive(pgid):
            del self.backgrounds[pgid]
            # the job has ended: `wait` returns its saved status at once
            marker = secrets.token_hex(16)
            self._send(
                f"{_builtin(f'wait {pgid}')}; {_builtin('printf')} '%s %s\\n' {marker} \"$?\"\n"
            )
            status = self._read_marker(marker, time.monotonic() + START_TIMEOUT)
            text, dropped = self._log_tail(pgid, log)
            return StepRun(
                Outcome.EXITED,
                int(status) if status and status.isdigit() else None,
                text,
                started_at,
                time.monotonic() - begin,
                dropped=dropped,
            )
        return StepRun(
            Outcome.STARTED, None, "", started_at, time.monotonic() - begin, pgid=pgid, log=log
        )

    def _trim_backgrounds(self) -> None:
        """Keep each background log to a bounded tail while the run goes on."""
        for pgid, log in self.backgrounds.items():
            try:
                if log.stat().st_size <= 2 * KEPT_OUTPUT:
                    continue
                with open(log, "r+b") as handle:
                    tail = self._background_tails.setdefault(pgid, OutputTail())
                    tail.add(handle.read())
                    handle.truncate(0)
            except OSError:
                continue

    def _log_tail(self, pgid: int, log: Path) -> tuple[str, int]:
        tail = self._background_tails.pop(pgid, None) or OutputTail()
        with contextlib.suppress(OSError), open(log, "rb") as handle:
            # the file is what trimming left: its tail is all that is needed
            size = os.fstat(handle.fileno()).st_size
            if size > tail.keep:
                # what trimming kept earlier is older than the part of the file left out too
                tail.dropped += len(tail.data) + size - tail.keep
                tail.data.clear()
                handle.seek(size - tail.keep)
            tail.add(handle.read())
        return tail.text(), tail.dropped

    def stop_background(self, pgid: int) -> tuple[str, int]:
        """Stop a background step with its whole process group; its log (text, bytes left
        out before it)."""
        log = self.backgrounds.pop(pgid, None)
        members = [p for p in processes().values() if p.pgid == pgid]
        if members:
            victims = {p.pid: p for p in members}
            for member in members:
                for proc in descendants(member.pid):
                    victims[proc.pid] = proc
            shell = self._proc.pid if self._proc else -1
            terminate(list(victims.values()), protect={shell})
        return self._log_tail(pgid, log) if log else ("", 0)

    def stop_backgrounds(self) -> dict[int, tuple[str, int]]:
        return {pgid: self.stop_background(pgid) for pgid in list(self.backgrounds)}
