"""A small Tortoise ORM service whose migrations aerich manages."""
