"""The engine: a resolved key set becomes objects (expand), is read live (refresh), diffed into
actions (diff, planner) and carried out in dependency order (graph, executor); reads and steps
both run on one scheduler (schedule).

May import the plan, systems, the providers' seam (`providers.base`), manifest data and core;
never a provider module, the sandbox, a renderer or a front end.
"""
