# SPDX-License-Identifier: Apache-2.0
"""
merge 41e9207fbe5 and 1ce6d45d7ef

Revision ID: 57b1053998d
Revises: ('41e9207fbe5', '1ce6d45d7ef')
Create Date: 2015-06-04 23:13:50.680431
"""

revision = "57b1053998d"
down_revision = ("41e9207fbe5", "1ce6d45d7ef")


def upgrade():
    pass


def downgrade():
    pass
