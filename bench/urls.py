"""The product's URLs plus a bare view: the floor a page is compared with (same middleware, no work)."""

from django.http import HttpResponse
from django.urls import path

from healthops.urls import urlpatterns as product


def bare(request):
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/", bare), *product]
