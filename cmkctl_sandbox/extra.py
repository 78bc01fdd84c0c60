"""The emulator's own packages, which only `pip install 'cmkctl[sandbox]'` brings.

A real run needs none of them (moto alone is ~50 MB), so a plain install leaves them out; the
sandbox then names the extra instead of failing on an import deep inside.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cmkctl_sandbox.errors import SandboxExtraMissing

EXTRA = "cmkctl[sandbox]"
# import name -> distribution name, as pip spells it
PACKAGES = {"trustme": "trustme", "moto": "moto", "flask": "flask", "flask_cors": "flask-cors",
            "werkzeug": "werkzeug", "cryptography": "cryptography"}


@contextmanager
def needs_extra() -> Iterator[None]:
    """Turns a missing emulator package into a message naming the extra that installs it."""
    try:
        yield
    except ModuleNotFoundError as error:
        top = (error.name or "").partition(".")[0]
        if top not in PACKAGES:
            raise
        raise SandboxExtraMissing(f"the sandbox needs packages that a plain install leaves out ({PACKAGES[top]} "
                                  f"is missing): pip install '{EXTRA}' (from a clone: pip install -e '.[sandbox]')"
                                  ) from None
