from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        UPDATE "task" SET "priority" = 0 WHERE "priority" IS NULL;"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        UPDATE "task" SET "priority" = NULL;"""


MODELS_STATE = (
    "eJztmF1v2jAUhv8KylUndVOBsla7A9ZqXVuoKJsmTZNlkkPwcOzUNmtRl/8+20lISAKDqZ"
    "0K6hVwPuzjJ/brEx6dgHtA5bsbwX+Cq5wPtUeH4QD0l6LrsObgMMwcxqDwiNrYMBc0kkpg"
    "O9YYUwna5IF0BQkV4Uxb2YxSY+SuDiTMz0wzRu5mgBT3QU1AaMf3H9pMmAcPINOf4RSNCV"
    "BvqVjimbmtHal5aG0XTJ3bQDPbCLmczgKWBYdzNeFsEU2YLd8HBgIrMMMrMTPlm+qShaYr"
    "iivNQuISczkejPGMqtxyRyizOQj1+kN0ezZEyNkCkMuZgatLlXb1vinhbaN+fHJ82nx/fK"
    "pDbJkLy0kUT52BiRMtnt7QiawfKxxHWMYZVPtZwtqdYFHNNY0vkNUlF8mmHNehTQ0Z22w/"
    "/Q+4AX5AFJivJobo0dEalF/bg+6n9uBAR70xU3J9AOKD0UtcjdgXRWYHj6c53MYwwu70Hg"
    "sPLXmyB6GwnMryk+gkaeeXA6DYLrBMPznGQz3EDj6FKN1jqTU5YpYjb/BVIMuuoBEULZhh"
    "3y7JzG1myrOqkMKU4WodVGnEqwjuiwgqouhWKrhI2EMZbG4kg801MtiMZfAwt209zioAdz"
    "ingFk14zSlgHikc56L8cLyfCpXxbTT71+ZkQMp76g1XAwLbL9cd84GB3WLXAcRBfmdnXEO"
    "BeGCqPkWIpFP+btUVKBOlODF7OYnEYs8Utv3oq2Udznpn7C+OJV4Aq6lzqiEucz4nAsgPr"
    "uEuUV9oYvCzK2ShvLbzI4hXtUJabPA94tuoLC7NAG9boglodu+7bY/njnR6p7zOduqNgji"
    "Tqoaq8SztrXCWcxrc7VL53pdc/ULhExeWzZtr3Ipe9hgNVqtTd4zW63V75nGt3xLmUO1Be"
    "EkfA/p1jdqX+tr2td6uX3VMypgFZfT59t+r5pwLqVA2SOuqv2uUSJ3+I6qgmtgLPWxKdOD"
    "6/a3Iu7uVb9j4XCpfGFHsQN0tvsD5ekvs+gPYhzCLQ=="
)
