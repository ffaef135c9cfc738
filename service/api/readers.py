"""Readers' data rights: export and erasure, by an admin or by the signed-in reader themself."""

from __future__ import annotations

from apiflask import APIBlueprint

from civility.errors import Forbidden, Unauthorized
from civility.readers import ReadersService
from service.auth import current_moderator, moderator_auth, optional_reader
from service.context import services
from service.schemas import ErasureOut, ReaderExportOut

bp = APIBlueprint("readers", __name__, url_prefix="/api/v1", tag="Readers' data")


def _service() -> ReadersService:
    svc = services()
    return ReadersService(svc.db, svc.settings, svc.client_hash_salt)


def _admin() -> str:
    moderator = current_moderator()
    if not moderator.is_admin:
        raise Forbidden("readers' data needs the admin role")
    return f"moderator:{moderator.name}"


def _signed_in_sub() -> str:
    reader = optional_reader()
    if reader is None:
        raise Unauthorized("an identity token is required")
    return reader.sub


@bp.get("/moderation/readers/<path:sub>/export")
@bp.auth_required(moderator_auth)
@bp.output(ReaderExportOut)
@bp.doc(summary="Everything kept about one signed-in reader (admin)", responses={403: "Not an admin"})
def admin_export(sub: str):
    _admin()
    return _service().export(sub)


@bp.delete("/moderation/readers/<path:sub>")
@bp.auth_required(moderator_auth)
@bp.output(ErasureOut)
@bp.doc(summary="Erase one signed-in reader (admin); idempotent", responses={403: "Not an admin"})
def admin_erase(sub: str):
    return _service().erase(sub, _admin())


@bp.get("/me/export")
@bp.output(ReaderExportOut)
@bp.doc(summary="Everything kept about the reader of this identity token", responses={401: "No valid token"})
def my_export():
    return _service().export(_signed_in_sub())


@bp.delete("/me")
@bp.output(ErasureOut)
@bp.doc(summary="Erase the reader of this identity token; idempotent", responses={401: "No valid token"})
def my_erase():
    return _service().erase(_signed_in_sub(), "reader:self")
