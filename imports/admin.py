from django.contrib import admin

from imports.models import HeaderMapping, ImportJob, ImportRowError


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["file_name", "status", "total_rows", "done_rows", "rejected_count",
                    "created_by", "created_at"]  # fmt: skip
    list_filter = ["status"]
    search_fields = ["file_name"]
    # Imports are made and counted by the import service; the admin only looks.
    readonly_fields = [field.name for field in ImportJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ImportRowError)
class ImportRowErrorAdmin(admin.ModelAdmin):
    list_display = ["job", "row_number", "email"]
    list_select_related = ["job"]
    readonly_fields = ["job", "row_number", "email", "errors"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(HeaderMapping)
class HeaderMappingAdmin(admin.ModelAdmin):
    list_display = ["__str__", "updated_by", "updated_at"]
