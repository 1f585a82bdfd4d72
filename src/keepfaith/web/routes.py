"""Every feature's routers, in one list so the app's surface is visible in one place."""

from __future__ import annotations

from fastapi import FastAPI


def include_routers(app: FastAPI) -> None:
    from keepfaith.account import data_views as account_data
    from keepfaith.account import views as account_views
    from keepfaith.campaigns import views as campaigns_views
    from keepfaith.consent import api as consent_api
    from keepfaith.consent import console as consent_console
    from keepfaith.consent import public as consent_public
    from keepfaith.jobs import views as jobs_views
    from keepfaith.mail import views as mail_views
    from keepfaith.messages import api as messages_api
    from keepfaith.policy import api as policy_api
    from keepfaith.policy import console as policy_console
    from keepfaith.policy import views as policy_views
    from keepfaith.preferences import console as preferences_console
    from keepfaith.preferences import views as preferences_views
    from keepfaith.signup import api as signup_api
    from keepfaith.signup import views as signup_views
    from keepfaith.staff import api as staff_api
    from keepfaith.staff import views as staff_views
    from keepfaith.subjects import api as subjects_api
    from keepfaith.subjects import console as subjects_console
    from keepfaith.suppression import console as suppression_console
    from keepfaith.unsubscribe import views as unsubscribe_views
    from keepfaith.web import apidocs, console, health

    # A request is matched against each route in turn, so the busiest come first: the API
    # and the public consent endpoint (machines call them), then pages people open.
    for router in (
        subjects_api.router,
        consent_api.router,
        consent_public.router,
        signup_api.router,
        messages_api.router,
        policy_api.router,
        staff_api.router,
        health.router,
        apidocs.router,
        policy_views.router,
        account_views.router,
        account_data.router,
        preferences_views.router,
        unsubscribe_views.router,
        signup_views.router,
        staff_views.router,
        policy_console.router,
        jobs_views.router,
        mail_views.router,
        campaigns_views.router,
        subjects_console.router,
        preferences_console.router,
        consent_console.router,
        suppression_console.router,
        console.router,  # last: its placeholder route matches any planned console section
    ):
        app.include_router(router)
