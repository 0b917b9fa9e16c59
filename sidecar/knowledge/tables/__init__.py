"""Translation tables (data) used by the rewrite core, kept apart from the rule packs."""
