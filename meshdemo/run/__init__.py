"""Run a guide's steps in one bash session, judge them, record what they printed.

One module a concern:

* ``runner``: the orchestration (which step runs, retries, what is recorded), ``select_steps``;
* ``policy``: the skip policy (skip, provision, teardown, after a failure);
* ``executors``: one executor per kind of step (bash, background, python, screenshot);
* ``verdict``: judging what the session saw, a pure function;
* ``session``: the bash protocol (markers, FIFOs, timeouts); ``processes``: finding and ending
  processes (``/proc``, the subreaper);
* ``output``: a step's output, bounded and masked before it is cut; ``masking``: the table of
  secret rules (add a rule and its case in tests/test_masking.py);
* ``record``: captures, run.json, tool versions, the failed run's session;
* ``life``: one run per project, signals, cleaning up after a run killed with SIGKILL;
* ``options``: the run options of every face (CLI, pytest plugin); ``normalize``: comparing
  outputs with the page's expected output; ``screenshot``: Playwright and Chromium.
"""
