"""What a front end asks for: plan this key set, apply this plan, export these regions; and the
session that wires one run to the sandbox or the real control planes.

May import anything below it; never click, a renderer or the CLI.
"""
