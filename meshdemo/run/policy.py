"""Which steps run: the skip policy of a run, decided without running anything.

* The run stops at the first step that fails; the steps after it are *not run* (their old
  captures stay as they were), except teardown steps when ``cleanup="always"``: the run jumps to
  them so the cluster is destroyed anyway.
* ``cleanup``: ``always`` runs teardown steps even after a failure; ``on-success`` (default)
  runs them only when every step before passed (a failed run keeps the cluster to look at);
  ``never`` skips them.
* Skipped steps (``skip``, ``provision`` on an existing cluster, teardown per policy) never run:
  they are listed in ``run.json`` and their capture files are left as they were, so a page
  keeps the last real output it had. (``skip-if`` is decided in the session, by the runner.)
"""

from __future__ import annotations

from meshdemo.model import Step
from meshdemo.status import CleanupPolicy, StepStatus


def skip_reason(
    step: Step,
    *,
    cleanup: CleanupPolicy,
    existing_cluster: bool,
    failed: Step | None,
) -> tuple[StepStatus, str] | None:
    """(status, note) when ``step`` is not to run; ``failed``: the step that failed before."""
    options = step.options
    if options.skip:
        return StepStatus.SKIPPED, f"skipped: {options.skip}"
    if options.provision and existing_cluster:
        return StepStatus.SKIPPED, "provisioning step skipped: the run targets an existing cluster"
    if options.teardown:
        if cleanup is CleanupPolicy.NEVER:
            return StepStatus.SKIPPED, "teardown skipped (--cleanup never)"
        if failed is not None and cleanup is CleanupPolicy.ON_SUCCESS:
            return (
                StepStatus.SKIPPED,
                f"teardown skipped: {failed.id} failed and --cleanup on-success "
                "keeps the cluster to look at",
            )
        return None
    if failed is not None:
        return StepStatus.NOT_RUN, f"not run: {failed.id} failed before it"
    return None
