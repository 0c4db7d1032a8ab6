"""The Hugging Face token, kept where ``huggingface_hub`` keeps it.

Fimble stores the token through ``huggingface_hub``'s own helpers, so ``hf``
on the command line and Fimble share one login and one file format: the
active token in ``HF_TOKEN_PATH`` and named tokens in
``HF_STORED_TOKENS_PATH`` (both owner-only). Fimble's copy is the one named
``fimble``.

Saving sends nothing over the network: ``huggingface_hub.login`` would first
ask the Hub who the token belongs to, which fails offline and would store the
token under the Hub's name for it. ``HubClient.whoami`` checks a token when
the Hub can be reached.
"""

from __future__ import annotations

from pathlib import Path

TOKEN_NAME = "fimble"


def save_token(token: str) -> None:
    """Save a Hugging Face token as the active one, named ``fimble`` among the stored tokens.

    Raises:
        ValueError: The token is empty.
        OSError: The token files can't be written.
    """
    from huggingface_hub._login import _set_active_token
    from huggingface_hub.utils._auth import _clean_token, _save_token

    cleaned = _clean_token(token)
    if not cleaned:
        raise ValueError("the Hugging Face token is empty")
    _save_token(cleaned, TOKEN_NAME)
    _set_active_token(TOKEN_NAME, add_to_git_credential=False)


def load_token() -> str | None:
    """The token ``huggingface_hub`` would use: ``HF_TOKEN`` first, then the active one."""
    from huggingface_hub import get_token

    return get_token()


def delete_token() -> None:
    """Forget Fimble's stored token and the active token.

    Other named tokens in the stored-tokens file are left alone, and a token
    in the ``HF_TOKEN`` environment variable still applies.
    """
    from huggingface_hub import constants
    from huggingface_hub._login import _logout_from_token

    # The active token goes first, whoever stored it: Fimble stops using any.
    Path(constants.HF_TOKEN_PATH).unlink(missing_ok=True)
    _logout_from_token(TOKEN_NAME)
