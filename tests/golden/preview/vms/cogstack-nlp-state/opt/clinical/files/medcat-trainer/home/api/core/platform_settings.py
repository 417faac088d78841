"""MedCAT Trainer settings of the clinical platform, on top of the image's core/settings.py (v2.11.2).

Upstream reads SECRET_KEY only to refuse to start without it when ENV=prod, then uses a key that is
published in its repository; it sets no cookie flags.
"""
import os

from core.settings import *  # noqa: F401,F403

SECRET_KEY = os.environ["SECRET_KEY"]
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SECURE = True
