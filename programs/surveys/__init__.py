"""Survey reports (摸排): a district officer's counts per as-of date, reviewed by the city.

Workflow: draft → submitted (district) → approved (city; or returned with a reason,
then edited and submitted again) → locked (no more changes). Dashboards show each
district's latest approved (or locked) report.

The modules: `fields` (the counts a report holds: the one list the dashboards and the
rollups read), `periods` (reporting periods, deadlines, who is late), `validate` (the
figures' checks), `services` (the writes, audited), `views`/`forms` (the pages),
`reminders` (the daily overdue reminder), `demo` (the article's counts). The API is in
programs/api/surveys.py.
"""
