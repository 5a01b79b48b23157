"""``onboard``: a bare Debian/Ubuntu server becomes a deploy target (recipe.py), starting with
first contact, where its host key is shown and pinned or refused (connection/hostkey.py)."""
