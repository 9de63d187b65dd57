"""The rule console: every domain model is in the admin, and every list page (with search) renders."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db
DOMAIN_APPS = ["healthops", "staffing", "scheduling", "authorizations", "referrals"]
INTERNAL = {"scheduling.NetworkVersion"}  # a token that database triggers keep (the slot search's plan cache)


def test_every_domain_model_is_registered():
    missing = [f"{app}.{m.__name__}" for app in DOMAIN_APPS for m in apps.get_app_config(app).get_models()
               if m not in admin.site._registry and f"{app}.{m.__name__}" not in INTERNAL]
    assert missing == []


def test_every_changelist_renders_with_demo_data(client, admin_user):
    call_command("seed_demo", "--no-users", verbosity=0)
    client.force_login(admin_user)
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in DOMAIN_APPS:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url
        if model_admin.search_fields:
            assert client.get(url, {"q": "a"}).status_code == 200, url
