from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=200)

    def __str__(self):
        return self.name


class Book(models.Model):
    title = models.CharField(max_length=300)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    published = models.IntegerField(null=True, blank=True)
    slug = models.SlugField(max_length=300, null=True, blank=True)

    def __str__(self):
        return self.title
