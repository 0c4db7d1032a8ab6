"""Find where to pull an offered catalog model from: a ready file, or one to quantize.

Community repositories hold ready quantizations and are not gated, so they
are asked first; the publisher's own repository comes last, and from it the
pull is a download of the full-precision file and a local quantization. This
asks the Hub (network I/O): call it off the GUI thread.
"""

from __future__ import annotations

from app.core.errors import ErrorKind
from app.core.hub.client import HubClient, HubError
from app.core.hub.pull_plan import PullError, PullPlan, plan_pull
from app.core.models.catalog import CatalogEntry

# When every source fails, the reason shown is the most useful one: the user
# can act on offline and gated, "not found" only says a mirror went away.
_REASON_ORDER = (ErrorKind.OFFLINE, ErrorKind.GATED, ErrorKind.AUTH)


def plan_for_entry(entry: CatalogEntry, quant: str, client: HubClient) -> PullPlan:
    """Plan the pull of ``entry`` at ``quant`` from the first repository that can serve it.

    Args:
        entry: The catalog model.
        quant: The wanted type, e.g. ``Q4_K_M``.
        client: The Hub client (endpoint and token).

    Returns:
        The plan (``quantize_to`` set when the file is made locally).

    Raises:
        HubError: No repository could be listed; offline and gated come first.
        PullError: Repositories were listed but none holds the type or a
            full-precision file to make it from.
    """
    errors: list[HubError | PullError] = []
    for repo in (*entry.community_repos, *((entry.official_repo,) if entry.official_repo else ())):
        try:
            details = client.repo(repo)
            return plan_pull(details, quant=quant)
        except HubError as exc:
            if exc.kind == ErrorKind.OFFLINE:
                raise  # every other repository would say the same
            errors.append(exc)
        except PullError as exc:
            errors.append(exc)
    for kind in _REASON_ORDER:
        for error in errors:
            if error.kind == kind:
                raise error
    if errors:
        raise errors[-1]
    raise PullError(f"{entry.title} lists no repository")
