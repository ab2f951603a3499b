"""Deployment checks of data-subject rights."""

import os

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def suppression_salt_of_its_own(app_configs, **kwargs) -> list[Warning]:
    """Erased addresses are remembered as hashes salted with SUPPRESSION_SALT, by default the
    SECRET_KEY: rotating that key would silently forget every erasure, and imports would
    bring the people back."""
    if os.environ.get("SUPPRESSION_SALT") or settings.DEBUG:
        return []
    return [
        Warning(
            "SUPPRESSION_SALT is not set: the suppression list of erased people is salted "
            "with SECRET_KEY and is lost when that key is rotated.",
            hint="Set SUPPRESSION_SALT to a long random value of its own and never change it.",
            id="leadladder.W001",
        )
    ]
