"""Who is asking: the partnership (by the Teams tenant) and the person (by Entra object id, else by
email or UPN from Teams, remembered for next time)."""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity, ErrorResponseException
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Partnership, Person
from storage.repositories import PeopleRepository

log = logging.getLogger(__name__)


def tenant_of(activity: Activity) -> str | None:
    """The tenant id from `channelData.tenant.id`.

    botbuilder 4.17.1 maps `conversation.tenantId` to the JSON key `tenantID`, so after
    deserialising a Teams payload `activity.conversation.tenant_id` is None; Teams always sends the
    tenant in channelData, which is read first.
    """
    data: Any = activity.channel_data
    tenant = data.get("tenant") if isinstance(data, dict) else getattr(data, "tenant", None)
    tenant_id = tenant.get("id") if isinstance(tenant, dict) else getattr(tenant, "id", None)
    if tenant_id:
        return str(tenant_id)
    conversation = activity.conversation
    return getattr(conversation, "tenant_id", None) if conversation else None


async def find_person(turn_context: TurnContext, session: AsyncSession, partnership: Partnership) -> Person | None:
    """The person behind this activity, or None if the partnership does not know them."""
    sender = turn_context.activity.from_property
    if sender is None:
        return None
    people = PeopleRepository(session)
    aad = getattr(sender, "aad_object_id", None)
    if aad:
        person = await people.by_aad_object_id(partnership, aad)
        if person is not None:
            if sender.id and person.teams_user_id != sender.id:
                person.teams_user_id = sender.id
            return person
    member = await _teams_member(turn_context, sender.id)
    if member is None:
        return None
    email = getattr(member, "email", None)
    upn = getattr(member, "user_principal_name", None)
    person = await people.by_address(partnership, email, upn)
    if person is not None:
        person.aad_object_id = aad or getattr(member, "aad_object_id", None) or person.aad_object_id
        person.teams_user_id = sender.id or person.teams_user_id
        person.upn = upn or person.upn
        await session.flush()
        log.info("matched Teams user %s to %s by email/UPN and remembered it", sender.id, person.name)
    return person


async def _teams_member(turn_context: TurnContext, user_id: str | None) -> Any:
    """The single-member look-up (the roster call is throttled); None if Teams cannot say."""
    if not user_id:
        return None
    try:
        return await TeamsInfo.get_member(turn_context, user_id)
    except ErrorResponseException as exc:
        log.info("Teams does not know member %s here: %s", user_id, exc)
    except Exception:  # a network or service failure: treat the person as unknown this turn
        log.warning("could not look up Teams member %s", user_id, exc_info=True)
    return None
