"""The plugin's preferences: the coordinator's URL and a submitter token,
in ``farm_submit_c4d.json`` in Cinema 4D's preferences folder
(``GeGetC4DPath(C4D_PATH_PREFS)``), readable by its user only.

``FARM_URL`` and ``FARM_TOKEN`` in the environment stand in for a token
left empty and a URL left at its default, as in the Blender add-on.
"""

import json
import os

import c4d

FILE_NAME = "farm_submit_c4d.json"
DEFAULT_URL = "http://127.0.0.1:8080"


def path():
    """Where the preferences are kept."""
    return os.path.join(c4d.storage.GeGetC4DPath(c4d.C4D_PATH_PREFS), FILE_NAME)


def load():
    """``{"url", "token"}``: what was saved, the environment standing in
    for what was not."""
    saved = {}
    try:
        with open(path(), encoding="utf-8") as file:
            saved = json.load(file)
    except (OSError, ValueError):
        saved = {}
    if not isinstance(saved, dict):
        saved = {}
    url = str(saved.get("url") or "").strip() or DEFAULT_URL
    token = str(saved.get("token") or "").strip()
    if url == DEFAULT_URL and os.environ.get("FARM_URL"):
        url = os.environ["FARM_URL"].strip()
    if not token and os.environ.get("FARM_TOKEN"):
        token = os.environ["FARM_TOKEN"].strip()
    return {"url": url, "token": token}


def save(url, token):
    """Keep ``url`` and ``token`` (the file is written whole, mode 0600)."""
    target = path()
    os.makedirs(os.path.dirname(target), exist_ok=True)
    partial = target + ".partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump({"url": url.strip(), "token": token.strip()}, file, indent=2)
    os.chmod(partial, 0o600)
    os.replace(partial, target)
