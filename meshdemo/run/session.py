"""One long-lived bash process that runs every step of a guide, in order.

How a step runs (see the notes on bash job control this builds on):

* The step's text is written to a file and the shell is sent one line on its standard input
  (the *control pipe*)::

      __meshdemo_seq=N; source STEPFILE </dev/null >OUTFILE 2>&1; printf 'SALT %s\\n' "$?"

  ``source`` keeps the state a step sets (variables, functions, ``cd``, ``PATH``) for the next
  one; ``</dev/null`` gives a command that reads standard input an immediate end of file instead
  of the rest of the control pipe; ``>OUTFILE 2>&1`` records stdout and stderr interleaved in the
  order they were written. The shell's own stdout carries nothing but the marker lines, whose
  per-run random salt cannot be produced by accident, so reading until the marker is how we learn
  that the step ended and with which status.
* End of file on the control pipe instead of a marker means the step ended the shell (``exit``,
  ``exec``, ``kill $$``): reported as such, never waited for. The shell's EXIT trap saves the
  exported variables, the functions and the working directory first, and :meth:`restart` starts a
  fresh shell from them (unexported variables are lost; ``exec`` skips EXIT traps, so after an
  ``exec`` the new shell starts from the last state saved, if any).
* ``set -m`` puts every foreground command and every ``&`` job of the shell in a process group
  of its own, so a timeout can kill the step's process groups without killing the shell, and
  ``trap 'return 124' USR1`` then makes the sourced step return at once: the remaining lines do
  not run, the state set before the kill is kept. The trap only fires when an *abort file* names
  the step being run, so a late USR1 can never cut short the next step.
* Background steps run as ``source STEPFILE </dev/null >LOG 2>&1 &``: a job with a process group
  of its own (its pgid is its pid, ``$!``), stopped with its whole group by :meth:`close`.

The session is a plain :class:`subprocess.Popen` with pipes rather than an ``sh`` command: the
control protocol needs the raw descriptors (a write per step, ``select`` + ``os.read`` on the
marker pipe, no reader thread), which is what keeps a trivial step well under a millisecond.

Process control (``/proc``, the subreaper, ending process trees) lives in
:mod:`meshdemo.run.processes`: :meth:`close` ends every process the session started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from meshdemo.run.processes import (
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

MAX_OUTPUT = 512 * 1024  # bytes of a step's output kept (its tail)


@dataclass
class StepRun:
    """What the session recorded of one step."""

    outcome: str
    status: int | None  # exit status (124 after a timeout/stop, the shell's after shell-exited)
    output: str
    started_at: str  # ISO 8601, UTC
    duration: float  # seconds
    pgid: int | None = None  # background steps: the job's process group
    log: Path | None = None  # background steps: where the output goes
    step_file: Path | None = None  # the file the step ran from (bash names it in errors)


def scratch_dir(prefix: str = "meshdemo-") -> Path | None:
    """A new private folder in memory (/dev/shm), or None where there is none.

    A step costs two file creations (its step file and its output file); on some disks a
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


class SessionError(RuntimeError):
    """The shell could not be started or stopped answering."""


class BashSession:
    """A bash process that keeps its state from one step to the next.

    ``workdir`` receives the step files, the output files, the background logs and the saved
    state; ``cwd`` and ``env`` are the shell's starting directory and environment.
    ``state``: a state file saved by an earlier session (:attr:`saved_state`) to start from
    (how ``meshdemo run --from`` resumes); ``pinned``: names of ``env`` whose values win over
    what that state restores (the run's own KUBECONFIG, ids, paths).
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
    ):
        self.workdir = Path(workdir)
        self.cwd = Path(cwd) if cwd else Path.cwd()
        self.env = dict(os.environ if env is None else env)
        self.bash = bash
        self.salt = secrets.token_hex(16)
        self._marker = f"{self.salt} ".encode()
        self._seq = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self.backgrounds: dict[int, Path] = {}  # pgid -> log of running background steps
        self.pinned = tuple(pinned)
        self._running: int | None = None  # the sequence number of the step running now
        self.subreaper = hold_subreaper(id(self))
        self._children_before = {p.pid for p in processes().values() if p.ppid == os.getpid()}
        for sub in ("steps", "out", "logs"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self._abort_file = self.workdir / "abort"
        self._state_file = self.workdir / "state.sh"
        self._state_file.unlink(missing_ok=True)
        self._abort_file.unlink(missing_ok=True)
        if state is not None and Path(state).is_file():
            self._state_file.write_bytes(Path(state).read_bytes())

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
        q = shlex.quote
        abort = q(str(self._abort_file))
        state = q(str(self._state_file))
        prologue = [
            "set -m",
            "set -o pipefail",
            # return from the sourced step only when the abort file names the running step
            "trap 'if [[ -e "
            + abort
            + " ]] && { read -r __meshdemo_abort <"
            + abort
            + ' ; [[ $__meshdemo_abort == "$__meshdemo_seq" ]]; }; then return 124; fi\' USR1',
            'trap \'{ export -p; declare -f; printf "cd %q\\n" "$PWD"; } >'
            + state
            + " 2>/dev/null' EXIT",
        ]
        if self._state_file.exists():
            prologue.append(f"source {state} >/dev/null 2>&1")
            for name in self.pinned:
                value = self.env.get(name)
                prologue.append(
                    f"export {name}={q(value)}" if value is not None else f"unset {name}"
                )
        prologue.append(f"printf '%s %s\\n' {self.salt} ready")
        self._send("\n".join(prologue) + "\n")
        if self._read_marker(time.monotonic() + 10) is None:
            raise SessionError("bash did not start")
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
            self._stop_shell()
            self.kill_leftovers()
            release_subreaper(id(self))

    def __enter__(self) -> BashSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stop_shell(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        _LIVE_SHELLS.discard(proc.pid)
        if proc.poll() is None:
            if self._running is not None:
                # interrupted mid-step (Ctrl-C): the step's remaining lines must not run
                self._abort_file.write_text(f"{self._running}\n")
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

    # -- running steps ------------------------------------------------------------------------

    def _send(self, text: str) -> None:
        assert self._proc and self._proc.stdin
        # a shell that is gone shows as the end of file in the read that follows
        with contextlib.suppress(BrokenPipeError):
            os.write(self._proc.stdin.fileno(), text.encode())

    def _read_marker(
        self, deadline: float | None, tick: Callable[[], None] | None = None
    ) -> str | None:
        """The value of the next marker line; None at end of file. TimeoutError at ``deadline``."""
        assert self._proc and self._proc.stdout
        fd = self._proc.stdout.fileno()
        while True:
            start = self._buffer.find(self._marker)
            if start != -1:
                end = self._buffer.find(b"\n", start)
                if end != -1:
                    value = self._buffer[start + len(self._marker) : end].decode()
                    self._buffer = self._buffer[end + 1 :]
                    return value
            wait: float | None = None
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    raise TimeoutError
            if tick is not None:
                wait = 0.25 if wait is None else min(wait, 0.25)
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                if tick is not None:
                    tick()
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk

    def _new_paths(self, name: str) -> tuple[int, Path, Path]:
        self._seq += 1
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60] or "step"
        stem = f"{self._seq:04d}-{safe}"
        return self._seq, self.workdir / "steps" / f"{stem}.sh", self.workdir / "out" / stem

    def run(
        self,
        command: str,
        *,
        name: str = "step",
        timeout: float | None = None,
        stream: float | None = None,
        tick: Callable[[], None] | None = None,
    ) -> StepRun:
        """Run ``command`` as one step; wait for it at most ``timeout`` seconds.

        ``stream``: stop the step after that many seconds and call it done (outcome STOPPED)
        unless it ended by itself before. ``tick`` is called about 4 times a second while
        the step runs (live progress).
        """
        if not self.alive:
            self.start()
        seq, step_file, out_file = self._new_paths(name)
        step_file.write_text(command if command.endswith("\n") else command + "\n")
        started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        since = boot_ticks()
        begin = time.monotonic()
        limit = stream if stream is not None else timeout
        deadline = None if limit is None else begin + limit
        q = shlex.quote
        self._send(
            # `jobs` first, output discarded: it consumes bash's reports of jobs that ended
            # since the last step ("[1]+  Terminated  sleep 60"), which bash would otherwise
            # print into this step's output
            f"jobs >/dev/null 2>&1; __meshdemo_seq={seq};"
            f" source {q(str(step_file))} </dev/null >{q(str(out_file))} 2>&1;"
            f" printf '%s %s\\n' {self.salt} \"$?\"\n"
        )
        outcome = Outcome.EXITED
        self._running = seq
        try:
            value = self._read_marker(deadline, tick)
        except TimeoutError:
            outcome = Outcome.STOPPED if stream is not None else Outcome.TIMED_OUT
            value = self._abort(seq, since, tick)
        # (an exception such as KeyboardInterrupt leaves _running set for _stop_shell)
        self._running = None
        duration = time.monotonic() - begin
        if value is None:
            outcome = Outcome.SHELL_EXITED
            status = self._proc.wait() if self._proc else None
            if status is not None and status < 0:
                status = 128 - status  # killed by a signal: the shell's convention
        else:
            status = int(value) if value.lstrip("-").isdigit() else None
        return StepRun(
            outcome=outcome,
            status=status,
            output=_read_output(out_file),
            started_at=started_at,
            duration=duration,
            step_file=step_file,
        )

    def _abort(self, seq: int, since: int, tick: Callable[[], None] | None) -> str | None:
        """Kill the running step's processes, then make the sourced step return 124."""
        assert self._proc
        shell = self._proc.pid
        victims = [
            p
            for p in self._step_processes(shell)
            if p.start >= since or p.pgid == shell  # started by this step (or a subshell of it)
        ]
        self._abort_file.write_text(f"{seq}\n")
        # USR1 first: bash holds the trap until the foreground command ends, then returns from
        # the step. Killing first would let the step's next line start before USR1 arrives.
        send_signal(shell, signal.SIGUSR1, group=False)
        terminate(victims, protect={shell})
        try:
            value = self._read_marker(time.monotonic() + 10, tick)
        except TimeoutError:
            # the shell itself is stuck: give up on it; the caller sees a shell that ended
            self._stop_shell()
            value = None
        self._abort_file.unlink(missing_ok=True)
        # Wait until bash has reaped the jobs it lost: it reports a killed job ("[1]+
        # Terminated") when it reaps it, into whatever output is redirected at that moment;
        # reaped now, while it waits for input, the report goes to the session log instead of
        # into the next step's output.
        jobs = [p.pid for p in victims if p.ppid == shell]
        deadline = time.monotonic() + 1.0
        while value is not None and time.monotonic() < deadline:
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

    def run_background(self, command: str, *, name: str = "step", check: float = 0.3) -> StepRun:
        """Start ``command`` as a job of its own; see after ``check`` seconds whether it lives.

        A job that already ended by then reports its exit status (outcome EXITED); one still
        running reports STARTED with its process group and log file.
        """
        if not self.alive:
            self.start()
        _, step_file, log = self._new_paths(name)
        log = self.workdir / "logs" / f"{log.name}.log"
        step_file.write_text(command if command.endswith("\n") else command + "\n")
        started_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        begin = time.monotonic()
        q = shlex.quote
        self._send(
            f"source {q(str(step_file))} </dev/null >{q(str(log))} 2>&1 &"
            f" printf '%s %s\\n' {self.salt} \"$!\"\n"
        )
        value = self._read_marker(time.monotonic() + 10)
        if value is None:
            return StepRun(Outcome.SHELL_EXITED, None, "", started_at, time.monotonic() - begin)
        pgid = int(value)
        self.backgrounds[pgid] = log
        end = time.monotonic() + check
        while time.monotonic() < end and is_alive(pgid):
            time.sleep(0.02)
        if not is_alive(pgid):
            del self.backgrounds[pgid]
            # the job has ended: `wait` returns its saved status at once
            self._send(f"wait {pgid}; printf '%s %s\\n' {self.salt} \"$?\"\n")
            status = self._read_marker(time.monotonic() + 10)
            return StepRun(
                Outcome.EXITED,
                int(status) if status and status.isdigit() else None,
                _read_output(log),
                started_at,
                time.monotonic() - begin,
            )
        return StepRun(
            Outcome.STARTED, None, "", started_at, time.monotonic() - begin, pgid=pgid, log=log
        )

    def stop_background(self, pgid: int) -> str:
        """Stop a background step with its whole process group; return its log."""
        log = self.backgrounds.pop(pgid, None)
        members = [p for p in processes().values() if p.pgid == pgid]
        if members:
            victims = {p.pid: p for p in members}
            for member in members:
                for proc in descendants(member.pid):
                    victims[proc.pid] = proc
            shell = self._proc.pid if self._proc else -1
            terminate(list(victims.values()), protect={shell})
        return _read_output(log) if log else ""

    def stop_backgrounds(self) -> dict[int, str]:
        return {pgid: self.stop_background(pgid) for pgid in list(self.backgrounds)}


def _read_output(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            cut = max(0, size - MAX_OUTPUT)
            handle.seek(cut)
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    if cut:
        text = f"[... {cut} bytes of output left out ...]\n" + text
    return text
