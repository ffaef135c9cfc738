"""HTTP blueprints: validation and serialisation only; the rules live in ``civility``."""
