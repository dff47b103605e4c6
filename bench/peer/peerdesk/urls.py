from django.urls import include, path

# django-helpdesk mounted at the root: its API is then /api/tickets/.
urlpatterns = [path("", include("helpdesk.urls"))]
