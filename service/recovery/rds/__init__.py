"""RDS for `restore` and `failover` jobs and for the snapshot a deploy takes before it applies migrations.

Import from the module that does the job:
- `client`: the boto3 client, the errors (`RdsError`, `RestoreRefused`, `RdsUnavailable`) and the
  one place botocore's exceptions are translated;
- `resources`: names, the job's tags, states, descriptions and the clock the others share;
- `backups`: the snapshots and the point-in-time window a restore can start from;
- `restore`: plan, start and poll a restore to a NEW instance or Aurora cluster;
- `snapshot`: the manual snapshot before apply;
- `cutover`: the restored copy takes the source's name;
- `failover`: promote the target's read replica, or fail its Aurora cluster over to a reader.

Every function takes a boto3 RDS client and makes a few short API calls, never a wait: a job
runner calls one function per step, journals the plain result (`to_dict()`), and polls again
later, asking `resources.deadline_passed` with the module's time limit when to give up.
"""
