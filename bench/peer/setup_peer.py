"""Prepare a freshly migrated django-helpdesk database for bench/peer.sh.

Creates the API user (a superuser, as the ticket API requires staff and a superuser sees
every queue), its DRF token and one queue to file tickets into; prints
`TOKEN QUEUE_ID` on one line. Run with the run directory's settings:
    DJANGO_SETTINGS_MODULE=peerdesk.settings python setup_peer.py
"""

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from helpdesk.models import Queue  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

User = get_user_model()
user, _ = User.objects.get_or_create(
    username="bench", defaults={"is_staff": True, "is_superuser": True}
)
user.set_unusable_password()
user.save()
token, _ = Token.objects.get_or_create(user=user)
queue, _ = Queue.objects.get_or_create(
    slug="intake", defaults={"title": "综合窗口受理"}
)
print(token.key, queue.id)
