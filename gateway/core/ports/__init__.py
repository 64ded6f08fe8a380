"""The contracts the core owns: what it needs from the HSM, the store, the audit trail and metrics."""
