from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.templatetags.static import static

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
