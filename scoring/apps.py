from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = _("Qualification")

    def ready(self) -> None:
        from consent.signals import consents_recorded, purpose_changed
        from scoring.services import rescore_after_consent, rescore_after_purpose_change

        consents_recorded.connect(rescore_after_consent, dispatch_uid="scoring-consent")
        purpose_changed.connect(rescore_after_purpose_change, dispatch_uid="scoring-purpose")
