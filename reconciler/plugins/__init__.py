"""The interface every plug-in implements, and the table of them that is passed down.

A floor of its own, below the engine and above the providers' shared plumbing: the engine imports
this interface and never a plug-in (`reconciler.systems`).
"""

from __future__ import annotations

from reconciler.plugins.base import ExpandContext, Grant, PlanRun, Plugin, PrincipalTarget, Refusal
from reconciler.plugins.table import PluginTable

__all__ = ["ExpandContext", "Grant", "PlanRun", "Plugin", "PluginTable", "PrincipalTarget", "Refusal"]
