"""The pages of accounts: signing in (`auth`), background jobs (`jobs`), user management
(`users`) and the notification list (`notifications`). Routed by accounts/urls.py."""
