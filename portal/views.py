from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache

from accounts.choices import Role
from portal.home import home_todos

HOME_TEMPLATES = {
    Role.PROVINCE: "portal/home_staff.html",
    Role.CITY: "portal/home_staff.html",
    Role.DISTRICT: "portal/home_staff.html",
    Role.EMPLOYER: "portal/home_employer.html",
    Role.ADMIN: "portal/home_staff.html",
}


@login_required
def home(request):
    """Each role lands on its own home page: what it has to do next."""
    user = request.user
    role = Role.ADMIN if user.is_superuser else Role(user.role)
    context = {"role": role, "scope_region": user.region, "todos": home_todos(user)}
    return render(request, HOME_TEMPLATES[role], context)


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links (JSON and file responses
    too): send them to the icon in static/ (resolved per request, so a hashed name from
    the production manifest is found)."""
    return redirect(static("favicon.svg"), permanent=True)


@never_cache
def healthz(request):
    """For load balancers and the smoke test: 200 when the database, the broker, a live
    worker and beat are fine, else 503 naming what is down. No login, and no data: only
    the names of the checks (the details are in `manage.py check_services`)."""
    from portal.health import check_all

    checks = check_all()
    down = [c.name for c in checks if not c.ok]
    body = {"status": "down" if down else "ok", "checks": {c.name: "ok" if c.ok else "down" for c in checks}}
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
