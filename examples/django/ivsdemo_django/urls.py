from __future__ import annotations

from django.urls import include, path

from ivsdemo_django import views

urlpatterns = [
    path("", views.index, name="index"),
    path("login", views.login, name="login"),
    path("logout", views.logout, name="logout"),
    path("_demo/intercom-stub.js", views.intercom_stub),
    path("api/", include("ivsecrets.integrations.django.urls")),
]
