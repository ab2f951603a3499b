"""Merging two lead records that turn out to be one person."""

from django.db import transaction
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _

from consent.services import move_subject
from leads.models import Lead, LeadMerge, OwnerChange
from leads.services.capture import NULLABLE_PROFILE_FIELDS, PROFILE_FIELDS, RESCORE_TASK
from outbox.services import request_task


class MergeRefused(Exception):
    """The merge is not possible; the message says why."""


def merge_leads(*, survivor_id: int, duplicate_id: int, actor) -> LeadMerge:
    """Fold the duplicate into the survivor: every row that names the duplicate (events,
    stage history, owner changes, consents, and whatever later apps add) moves over, blanks
    of the survivor are filled from the duplicate, and the duplicate is kept, marked as merged,
    so links to it still lead somewhere. Recorded with who did it."""
    if survivor_id == duplicate_id:
        raise MergeRefused(_("A lead cannot be merged with itself."))
    with transaction.atomic():
        # Lock both rows in id order: two merges of the same pair cannot deadlock.
        locked = {
            lead.pk: lead
            for lead in Lead.objects.select_for_update()
            .filter(pk__in=[survivor_id, duplicate_id])
            .order_by("pk")
        }
        survivor, duplicate = locked.get(survivor_id), locked.get(duplicate_id)
        if survivor is None or duplicate is None:
            raise MergeRefused(_("One of these leads does not exist (any more)."))
        if survivor.merged_into_id or duplicate.merged_into_id:
            raise MergeRefused(_("One of these leads was merged already."))

        snapshot = model_to_dict(duplicate, exclude=["owner", "merged_into"])
        snapshot = {
            key: str(value) if value is not None else None for key, value in snapshot.items()
        }
        moved = _move_related_rows(duplicate, survivor)
        moved["consent records"] = move_subject(
            from_subject_id=duplicate.pk, to_subject_id=survivor.pk
        )

        for name in PROFILE_FIELDS + NULLABLE_PROFILE_FIELDS:
            if getattr(survivor, name) in ("", None):
                setattr(survivor, name, getattr(duplicate, name))
        if survivor.owner_id is None and duplicate.owner_id is not None:
            survivor.owner_id = duplicate.owner_id
            OwnerChange.objects.create(
                lead=survivor,
                from_owner=None,
                to_owner_id=duplicate.owner_id,
                actor=actor,
                reason=_("Taken over from the merged duplicate."),
            )
        survivor.last_activity_at = max(
            filter(None, [survivor.last_activity_at, duplicate.last_activity_at]), default=None
        )
        survivor.save()
        duplicate.merged_into = survivor
        duplicate.save(update_fields=["merged_into", "updated_at"])
        merge = LeadMerge.objects.create(
            survivor=survivor,
            duplicate=duplicate,
            actor=actor,
            duplicate_snapshot=snapshot,
            moved=moved,
        )
        request_task(RESCORE_TASK, survivor.pk, dedupe_key=f"rescore:{survivor.pk}")
    return merge


def _move_related_rows(duplicate: Lead, survivor: Lead) -> dict[str, int]:
    """Point every foreign key that names the duplicate at the survivor."""
    moved = {}
    for relation in Lead._meta.related_objects:
        if relation.related_model is LeadMerge or not relation.field.concrete:
            continue
        if relation.one_to_one or relation.many_to_many:
            continue
        manager = relation.related_model._base_manager
        count = manager.filter(**{relation.field.name: duplicate}).update(
            **{relation.field.name: survivor}
        )
        if count:
            moved[str(relation.related_model._meta.verbose_name_plural)] = count
    return moved
