"""Small helpers the HTML views share: pagination and "one URL serves the page and its htmx fragment"."""

from collections.abc import Callable

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

PAGE_SIZE = 50


def paginate(request, queryset, per_page: int = PAGE_SIZE) -> Page:
    # get_page() tolerates a missing, malformed or out-of-range ?page= (first or last page instead of an error).
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def render_page_or_partial(request, template: str, context: dict, *, partial: str = "table", status: int = 200):
    """The whole page, or only its `template#partial` when htmx asks (but not for a history restore, which wants
    the page)."""
    htmx = getattr(request, "htmx", None)
    name = f"{template}#{partial}" if htmx and not htmx.history_restore_request else template
    response = render(request, name, context, status=status)
    patch_vary_headers(response, ["HX-Request"])  # the same URL answers with a page or a fragment
    return response


def render_filtered_list(request, template: str, form, rows: Callable[[dict], QuerySet],
                         extra: Callable[[dict], dict] | None = None):
    """A list page: validate the filter form, then render one page of `rows(filters)` (whole page or its table
    fragment). An invalid filter value gets the form's errors with status 400, never a 500."""
    if not form.is_valid():
        return render_page_or_partial(request, template, {"form": form, "page_obj": None}, status=400)
    filters = form.cleaned_data
    context = {"form": form, "page_obj": paginate(request, rows(filters)), **(extra(filters) if extra else {})}
    return render_page_or_partial(request, template, context)


def redirect_after_post(request, url: str, message: str):
    """After a successful POST: a success message, then back to a page (htmx is told to go there itself; a bare
    302 would be followed inside the fragment)."""
    messages.success(request, message)
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", False) else redirect(url)
