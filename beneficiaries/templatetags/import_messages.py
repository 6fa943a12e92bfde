"""{{ message|import_message }}: an import's stored Chinese message in the page's language."""

from django import template

from beneficiaries.importer.messages import column_name, import_message

register = template.Library()

register.filter("import_message", import_message)
register.filter("import_column", column_name)
