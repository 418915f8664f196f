# Written for slipway's benchmark (not upstream): the one module warehouse's migrations
# import (warehouse.utils.db.types), reachable as `import warehouse` as they use it.
import warehouse.utils.db.types  # noqa: F401
