"""The `zero-downtime` Pulumi component package: hosts `components/` for stacks in any language."""
