"""Job reports, from the journal: the runbook's checklist for recover, rollback, restore and failover
jobs, and a shorter report for check and deploy jobs.

`build.build_report(job, events)` reads only a job and its journal (no database, no Flask). For a
recover, rollback, restore or failover job it says what failed, what the decision rested on, what was done
and when, who approved it, and where the history ended up; then it walks the nine items of the
runbook's "Migration Rollback Checklist" (seed/MIGRATION_ROLLBACK.md) and marks each done, not
done, or not applicable, with the time and the journal entry that shows it. A check or deploy job
gets no checklist (nothing was rolled back): its report is the verdict with its reasons, each
migration's state as the `status` step read it, the `lint` step's findings, the migrations
applied, and the recover job that took over a failed apply, if one did.

The parts: `steps` (typed records of the journal steps read), `journal` (step runs paired up),
`model` (the report as data, `to_dict` for the API), `base`/`recover`/`rollback`/`restore`/`failover` (one
builder per kind of job), `words` (the phrases), `render` and `templates/` (Markdown, and the
pieces the HTML console reuses).

Job facts are secret-free, and the report adds nothing that is not in them (no connection strings,
no verification server names).
"""
