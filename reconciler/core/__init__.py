"""The ground floor every layer stands on: error types, object kinds, Azure roles, KMS policy
statements, secrets, the wire log, retries and locks.

Imports nothing of ours outside core.
"""
