from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


async def upgrade(db: BaseDBAsyncClient) -> str:
    return """
        CREATE TABLE IF NOT EXISTS "project" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(200) NOT NULL
);
CREATE TABLE IF NOT EXISTS "task" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "title" VARCHAR(300) NOT NULL,
    "done" INT NOT NULL,
    "project_id" INT NOT NULL REFERENCES "project" ("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "aerich" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "version" VARCHAR(255) NOT NULL,
    "app" VARCHAR(100) NOT NULL,
    "content" JSON NOT NULL
);"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    return """
        """


MODELS_STATE = (
    "eJztl1Fv2jAQx78KylMndVOBslZ7A1a0ri1MlE2TpskyyRE8HDu1zVrU5bvPdhISksBAKp"
    "NAfSL872yffzmfL89OwD2g8t0XwX+Bq5wPtWeH4QD0Q9F0WnNwGGYGIyg8ptY3zDmNpRLY"
    "zjXBVIKWPJCuIKEinGmVzSk1Ine1I2F+Js0ZeZgDUtwHNQWhDT9+apkwD55Apn/DGZoQoN"
    "5KsMQza1sdqUVotWumetbRrDZGLqfzgGXO4UJNOVt6E2bD94GBwArM9ErMTfgmumSj6Y7i"
    "SDOXOMTcGA8meE5VbrtjlGkOQv3BCN1fjRBydgDkcmbg6lCl3b1vQnjbqJ9fnF82359fah"
    "cb5lK5iOKlMzDxQIunP3Iia8cKxx6WcQbV/pawdqdYVHNN/QtkdchFsinHTWhTIWOb5dP/"
    "gBvgJ0SB+WpqiJ6dbUD5rT3sfmoPT7TXG7Mk1wcgPhj9xNSIbVFkMngyy+E2whi7s0csPL"
    "RiyV6EwnImy2+ikwzr3QyBYrvBMv3kGI/0FAf4FqI0x1I1OWKWI2/wdSDLpqARFBXMsG+3"
    "ZNY2K+VZVZTClOH6OqhSj9cieCxFUBFFd6qCywFHWAabW5XB5oYy2IzL4GkubT3OKgB3OK"
    "eAWTXjdEgB8ViP2RfjpbK/KlfFtDMY3JqZAykfqBWuRwW2X+86V8OTukWunYiCfGZnnJMm"
    "De1UJlYH/btcHEJKv0DFKF3jJcxlxj0ugPjsBhYW9bUOCjO3Ko/LrfeBIV53bWtZ4Mfl1V"
    "XILk1A7xvi/O2277vtj1dOtL5B2mcP0AZB3GlVF5BYNvYBOPN57QQO6Vxv6gR+g5BJj71t"
    "L5AbcoTdQKPV2uajqNVa/1FkbKu3lDlUOxBO3I+Qbn2rXqu+odeql3stvaICVnE5fb4f9K"
    "sJ54YUKHvEVbU/NUrkAd9RVXANjJWmK2V6ctf+XsTdvR10LBwulS/sLHaCzm5f+y9/mUV/"
    "AS2mVzo="
)
