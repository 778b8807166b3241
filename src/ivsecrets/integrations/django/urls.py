"""``path("api/", include("ivsecrets.integrations.django.urls"))`` serves
``/api/intercom/identity/<platform>``."""

from __future__ import annotations

from django.urls import path

from ivsecrets.integrations.django import views

app_name = "ivsecrets_intercom"
urlpatterns = [path("intercom/identity/<str:platform>", views.identity, name="identity")]
