"""Links to a job and its report, and the token that lets a report link be read without a bearer token.

A person who clicks "Details" on a Vercel check or a link in a notification has no API token. With
a report-link secret configured (`report_link_secret_env`), the report link carries one:
`/v1/jobs/{id}/report?token=<hex HMAC-SHA256 of the job id under the secret>`. The token is a
read-only capability for that one report: it is checked against the job id in the path, so it
opens no other job's report and no other endpoint. It is derived from the secret, never the secret
itself, and without a secret links are plain and the report needs a bearer token as before.
"""

from __future__ import annotations

import hashlib
import hmac


def report_token(secret: str, job_id: str) -> str:
    """The token that opens the report of `job_id` (64 lowercase hex digits)."""
    return hmac.new(secret.encode("utf-8"), job_id.encode("utf-8"), hashlib.sha256).hexdigest()


def report_token_valid(secret: str | None, job_id: str, presented: str) -> bool:
    """Whether `presented` opens the report of `job_id`; never without a secret. Constant time."""
    if not secret:
        return False
    return hmac.compare_digest(report_token(secret, job_id).encode("ascii"), presented.encode("utf-8", "replace"))


def job_links(job_id: str, public_url: str = "", report_link_secret: str | None = None) -> dict[str, str]:
    """The job's URL and its report's, the report's with its token when a secret is configured."""
    job = f"{public_url}/v1/jobs/{job_id}"
    report = f"{job}/report"
    if report_link_secret:
        report += f"?token={report_token(report_link_secret, job_id)}"
    return {"job": job, "report": report}
