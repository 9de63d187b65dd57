import pytest

from .. import factories


@pytest.fixture
def inline_jobs(monkeypatch):
    """Flow jobs run inline (django-q2 sync); tests capture on-commit callbacks to run them."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def network(north, sandbox, settings):
    """A bookable dermatology clinic at north, a payer, and the payer sandbox over HTTP."""
    factories.point_at_sandbox(settings, sandbox)
    service = factories.bookable_clinic(north, auto_book=True)
    payer = factories.payer()
    return {"site": north, "service": service, "payer": payer, "sandbox": sandbox}
