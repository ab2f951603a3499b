from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz
from funnel.views import home

urlpatterns = [
    path("", home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("imports/", include("imports.urls")),
    path("leads/", include("leads.urls")),
    path("sales/", include("sales.urls")),
    path("work/", include("activities.urls")),
    path("funnel/", include("funnel.urls")),
    path("quota/", include("quota.urls")),
    path("qualification/", include("scoring.urls")),
    path("privacy/purposes/", include("consent.urls")),
    path("privacy/consent/", include("consent.subject_urls")),
    path("privacy/retention/", include("retention.urls")),
    path("privacy/", include("privacy.urls")),
    # Signed links in messages to leads: confirm, withdraw, preferences. No login.
    path("c/", include("consent.public_urls")),
    # Visitors of public forms and signed links switch language too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("api.urls")),
    # DRF views opt out of LoginRequiredMiddleware and drf-spectacular allows anyone: the
    # schema describes private endpoints, so it is for logged-in users only.
    path("api/schema/", login_required(SpectacularAPIView.as_view()), name="schema"),
    path(
        "api/docs/",
        # Swagger UI styles its widgets inline; it runs no inline script, so only styles relax.
        login_required(
            csp_update({"style-src": [SELF, UNSAFE_INLINE]})(
                SpectacularSwaggerSplitView.as_view(url_name="schema")
            )
        ),
        name="api-docs",
    ),
    # Web forms: admin pages under forms/, the public pages visitors fill in under f/<slug>/.
    path("", include("webforms.urls")),
    path("django-admin/", admin.site.urls),
]
