"""Report links: the token is the job id's HMAC-SHA256 under the secret, and opens that job's report only."""

import hashlib
import hmac

from service.links import job_links, report_token, report_token_valid

SECRET = "report-link-secret-0123456789"
JOB = "5b0c3b5e-7a55-4c1f-9a55-2f2b3c4d5e6f"
OTHER = "00000000-0000-4000-8000-000000000000"


def test_the_token_is_the_hex_hmac_sha256_of_the_job_id():
    assert report_token(SECRET, JOB) == hmac.new(SECRET.encode(), JOB.encode(), hashlib.sha256).hexdigest()
    assert report_token(SECRET, JOB) != report_token(SECRET, OTHER) != report_token("another-secret-0123456789", OTHER)


def test_a_token_opens_its_own_job_only_and_nothing_without_a_secret():
    token = report_token(SECRET, JOB)
    assert report_token_valid(SECRET, JOB, token)
    assert not report_token_valid(SECRET, OTHER, token)
    assert not report_token_valid("another-secret-0123456789", JOB, token)
    assert not report_token_valid(SECRET, JOB, token[:-1]) and not report_token_valid(SECRET, JOB, token + "0")
    assert not report_token_valid(SECRET, JOB, "é" * 64) and not report_token_valid(SECRET, JOB, "")
    assert not report_token_valid(None, JOB, token) and not report_token_valid("", JOB, token)


def test_links_carry_the_token_on_the_report_only_and_never_the_secret():
    signed = job_links(JOB, "https://gate.example.com", SECRET)
    assert signed == {
        "job": f"https://gate.example.com/v1/jobs/{JOB}",
        "report": f"https://gate.example.com/v1/jobs/{JOB}/report?token={report_token(SECRET, JOB)}",
    }
    assert SECRET not in str(signed)
    assert job_links(JOB, "https://gate.example.com") == {
        "job": f"https://gate.example.com/v1/jobs/{JOB}",
        "report": f"https://gate.example.com/v1/jobs/{JOB}/report",
    }
    assert job_links(JOB, "", None)["report"] == f"/v1/jobs/{JOB}/report"
