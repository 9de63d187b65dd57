from django.urls import path

from .api import KpisView

urlpatterns = [path("", KpisView.as_view(), name="api-kpis")]
