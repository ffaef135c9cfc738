"""Storage: SQLAlchemy models, engine set-up, Alembic migrations and the repositories over them."""
