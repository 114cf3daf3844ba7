"""Typed calls of the REST API's team routes (`/users`, their keys, `/me`), on a RehostClient."""

from __future__ import annotations

from typing import Any

from rehost.client import Document, RehostClient


class TeamClient:
    """Users, AccessKeys and the caller's own password, through the client's transport."""

    def __init__(self, client: RehostClient) -> None:
        self.transport = client.transport

    def _call(self, method: str, path: str, **kwargs: Any) -> Document:
        result = self.transport.call(method, path, **kwargs)
        return dict(result) if isinstance(result, dict) else {}

    def me(self) -> Document:
        """Who the AccessKey belongs to: account, user, role."""
        return self._call("GET", "/me")

    def change_password(self, *, old_password: str, new_password: str) -> Document:
        """Change the caller's own password."""
        return self._call("POST", "/me/password", json={
            "old_password": old_password, "new_password": new_password})

    def list_users(self) -> Document:
        """The account's users."""
        return self._call("GET", "/users")

    def create_user(self, *, name: str, role: str, password: str) -> Document:
        """A new user with a role and an initial password."""
        return self._call("POST", "/users", json={"name": name, "role": role,
                                                  "password": password})

    def get_user(self, user_id: str) -> Document:
        """One user."""
        return self._call("GET", f"/users/{user_id}")

    def set_role(self, user_id: str, role: str) -> Document:
        """Change a user's role."""
        return self._call("PATCH", f"/users/{user_id}", json={"role": role})

    def delete_user(self, user_id: str) -> Document:
        """Delete a user with its keys."""
        return self._call("DELETE", f"/users/{user_id}")

    def reset_password(self, user_id: str, password: str) -> Document:
        """Admin-side password reset."""
        return self._call("POST", f"/users/{user_id}/password", json={"password": password})

    def list_keys(self, user_id: str) -> Document:
        """A user's AccessKeys (no secrets)."""
        return self._call("GET", f"/users/{user_id}/keys")

    def create_key(self, user_id: str) -> Document:
        """A new AccessKey; the answer holds the secret once."""
        return self._call("POST", f"/users/{user_id}/keys")

    def set_key_enabled(self, user_id: str, key_id: str, *, enabled: bool) -> Document:
        """Disable or enable a key."""
        verb = "enable" if enabled else "disable"
        return self._call("POST", f"/users/{user_id}/keys/{key_id}/{verb}")

    def delete_key(self, user_id: str, key_id: str) -> Document:
        """Delete a key."""
        return self._call("DELETE", f"/users/{user_id}/keys/{key_id}")

    def user_id_of(self, name_or_id: str) -> str:
        """A user's id from its name or id (the caller's own when empty)."""
        if not name_or_id:
            return str(self.me()["user_id"])
        for user in self.list_users()["users"]:
            if name_or_id in (user["user_id"], user["name"]):
                return str(user["user_id"])
        return name_or_id  # the server answers InvalidUserId.NotFound
