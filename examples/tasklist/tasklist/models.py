"""The service's tables."""

from tortoise import fields
from tortoise.models import Model


class Project(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)


class Task(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=300)
    project = fields.ForeignKeyField("models.Project", related_name="tasks")
    done = fields.BooleanField(default=False)
    priority = fields.IntField(null=True)
