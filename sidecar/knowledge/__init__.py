"""Model families and rule packs as data (one YAML file per provider family).

Loaded and validated by `sidecar.rewrite.knowledge`; every rule cites the fact it encodes in
`provider-rules.md`.
"""
