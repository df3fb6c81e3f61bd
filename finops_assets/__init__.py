"""finops_assets: FOCUS cloud bills in, explained cost incidents out."""
