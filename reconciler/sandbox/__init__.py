"""A local emulator of the control planes cmkctl talks to (ARM, Graph, Astra), over HTTPS.

    with Sandbox(directory) as sandbox:
        sandbox.endpoints   # point the real SDK clients here
        sandbox.state       # what the "cloud" now holds
        sandbox.calls()     # every request made, in order

See README.md in this package for the state and world.yaml layouts.
"""

from reconciler.sandbox.faults import FaultInjector
from reconciler.sandbox.session import Sandbox
from reconciler.sandbox.world import WorldError, load_state

__all__ = ["FaultInjector", "Sandbox", "WorldError", "load_state"]
