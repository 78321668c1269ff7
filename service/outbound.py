"""The one HTTP client for every outbound call: Vercel's and GitHub's APIs, notification webhooks, the CLI's calls to the service.

One `urllib3.PoolManager` per process, made on first use (urllib3 is imported then, so commands
that never call out, `lint` above all, do not pay for it) and made again in a forked child, which
must not share its parent's sockets. Every call through it:

- has a timeout (`DEFAULT_TIMEOUT_SECONDS`, or the caller's);
- never follows a redirect: a 3xx comes back as the answer it is, and callers take it as a refusal,
  since a token or a signed body must not go where a `Location` header says;
- reads at most `max_body` bytes of the answer (`ResponseTooLarge` beyond that);
- is never retried here: callers retry with `service.backoff` (a task through Celery's retry, the
  CLI in its loop), honouring `Answer.retry_after`, which urllib3's `Retry` parses in both of the
  header's forms (seconds and HTTP-date).

Errors (`OutboundError`) name the kind of failure, never the URL: URLs may carry credentials
(`https://user:password@host`, a webhook's secret path).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import urllib3

USER_AGENT = "deploy-gate/1"
DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_BODY_BYTES = 1024 * 1024


class OutboundError(Exception):
    """A call that got no usable answer; the message names what went wrong, never the URL."""


class Unreachable(OutboundError):
    """No answer: the connection failed, was cut, or timed out. Worth trying again later.

    The message says `network error (<kind>)` for logs and journals; `reason` is the system's own
    words for people (`[Errno 111] Connection refused`). Neither names the URL.
    """

    def __init__(self, error: BaseException) -> None:
        from urllib3.exceptions import NewConnectionError
        from urllib3.exceptions import TimeoutError as Timeout

        cause = error
        while (inner := cause.__cause__ or cause.__context__) is not None:
            cause = inner
        # urllib3's NewConnectionError is a timeout error by inheritance only.
        if isinstance(cause, TimeoutError) or (isinstance(cause, Timeout) and not isinstance(cause, NewConnectionError)):
            kind, self.reason = "timed out", "timed out"
        else:
            kind, self.reason = type(cause).__name__, str(cause) or type(cause).__name__
        super().__init__(f"network error ({kind})")


class ResponseTooLarge(OutboundError):
    """An answer whose body is over the cap; it was not read."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class UnusableUrl(OutboundError):
    """A URL no call can be made to (not http or https, no host, not parseable)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    # Names compare without case, as HTTP's do (urllib3's HTTPHeaderDict).
    headers: Mapping[str, str]

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asks to wait (`Retry-After` as seconds or an HTTP-date), or None."""
        value = self.headers.get("Retry-After")
        if not value:
            return None
        from urllib3.exceptions import InvalidHeader

        try:
            return float(_policy().parse_retry_after(value))
        except InvalidHeader:
            return None


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    max_body: int = MAX_BODY_BYTES,
) -> Answer:
    """Send one request and read its answer, whatever its status (a 3xx included, never followed)."""
    from urllib3.exceptions import HTTPError, LocationValueError

    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    try:
        response = _pool().request(method, url, body=body, headers=sent, timeout=timeout, retries=_policy(), redirect=False, preload_content=False)
    except LocationValueError:
        raise UnusableUrl("the URL cannot be used (it needs http or https and a host)") from None
    except (HTTPError, OSError) as error:
        raise Unreachable(error) from None
    try:
        data = response.read(max_body + 1)
    except (HTTPError, OSError) as error:
        response.close()
        raise Unreachable(error) from None
    if len(data) > max_body:
        response.close()  # the rest is never read: the connection goes, not back to the pool
        raise ResponseTooLarge(f"the answer ({response.status}) is over {max_body} bytes", status=response.status)
    response.release_conn()
    return Answer(response.status, data, response.headers)


_lock = threading.Lock()
_manager: urllib3.PoolManager | None = None
_retries: urllib3.Retry | None = None


def _pool() -> urllib3.PoolManager:
    global _manager
    with _lock:
        if _manager is None:
            import urllib3

            _manager = urllib3.PoolManager(maxsize=8, timeout=urllib3.Timeout(DEFAULT_TIMEOUT_SECONDS), retries=_policy())
        return _manager


def _policy() -> urllib3.Retry:
    """No retries and no redirects: errors come straight back, and a 3xx is returned, not raised."""
    global _retries
    if _retries is None:
        import urllib3

        _retries = urllib3.Retry(total=False, redirect=False, raise_on_redirect=False, raise_on_status=False)
    return _retries


def _forget_pool() -> None:
    global _manager, _lock
    _manager = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)
