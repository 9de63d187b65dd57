from django.urls import path

from . import views

app_name = "authorizations"
urlpatterns = [
    path("", views.authorization_list, name="list"),
    path("scorecard/", views.scorecard, name="scorecard"),
]
# Mounted at /integrations/ by healthops.urls: endpoints that outside systems call, authenticated by token.
integration_urlpatterns = [
    path("payer/<str:token>/notifications", views.payer_notification, name="payer-notification"),
]
