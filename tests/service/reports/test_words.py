"""A restore's, cut-over's and failover's AWS steps in words, for each shape the steps journal (service.jobs.restore, .failover)."""

import pytest

from service.reports.journal import StepRun
from service.reports.words import step_summary

ADDRESS = {"endpoint": "prod-recovery.abc.us-east-1.rds.amazonaws.com", "port": 5432}


@pytest.mark.parametrize(
    ("step", "data", "words"),
    [
        ("start", {"action": "restore_instance", "identifier": "prod-recovery", "resumed": False}, "AWS is restoring to the new instance prod-recovery"),
        (
            "start",
            {"action": "restore_cluster", "identifier": "aurora-recovery", "resumed": True},
            "AWS is restoring to the new Aurora cluster aurora-recovery (an earlier run had already asked for it)",
        ),
        (
            "start_instance",
            {"action": "create_instance", "identifier": "aurora-recovery-instance-1", "resumed": False},
            "AWS is creating the writer instance aurora-recovery-instance-1 in the new cluster",
        ),
        (
            "poll:2",
            {"state": "creating", "status": "modifying", "identifier": "prod-recovery"},
            "asked AWS: prod-recovery is modifying, not available yet; asking again later",
        ),
        (
            "poll:1",
            {"state": "failed", "status": "incompatible-restore", "identifier": "prod-recovery"},
            "AWS reports prod-recovery incompatible-restore: it will not become available",
        ),
        (
            "endpoint",
            {"state": "available", "status": "available", "identifier": "prod-recovery", **ADDRESS},
            "prod-recovery is available at prod-recovery.abc.us-east-1.rds.amazonaws.com:5432",
        ),
        (
            "start",
            {"action": "promote_replica", "identifier": "prod-replica", "resumed": False},
            "AWS is promoting the read replica prod-replica to a standalone instance",
        ),
        (
            "start",
            {"action": "failover_cluster", "identifier": "aurora-prod-reader", "resumed": True},
            "AWS is failing the Aurora cluster over to its reader instance aurora-prod-reader (an earlier run had already asked for it)",
        ),
        (
            "endpoint",
            {
                "state": "available",
                "status": "prod-replica is a standalone instance and available",
                "identifier": "prod-replica",
                "replica": "prod-replica",
                **ADDRESS,
            },
            "prod-replica is a standalone instance and available; the application connects to prod-recovery.abc.us-east-1.rds.amazonaws.com:5432",
        ),
        (
            "cutover:rename_old",
            {"action": "rename_old_away", "identifier": "prod-old-202612040433", "resumed": False},
            "AWS is renaming the old instance away, to prod-old-202612040433",
        ),
        ("cutover:rename_new", {"action": "rename_new_in", "identifier": "prod", "resumed": False}, "AWS is renaming the restored instance to prod"),
        (
            "cutover:poll:1",
            {"state": "renaming_old", "status": "prod (the old resource) is renaming"},
            "asked AWS: prod (the old resource) is renaming; asking again later",
        ),
        (
            "cutover:done",
            {"state": "done", "status": "prod is the restored copy and available", **ADDRESS},
            "prod is the restored copy and available at prod-recovery.abc.us-east-1.rds.amazonaws.com:5432",
        ),
        (
            "cutover:stuck",
            {"reason": "renaming prod did not finish within 30 minutes", "names": [], "advice": []},
            "renaming prod did not finish within 30 minutes",
        ),
    ],
)
def test_an_aws_step_in_words(step, data, words):
    assert step_summary(StepRun(step, None, None, "finished", data)) == words
