"""The BMG paper from Teams: a link for the business unit that works for an hour, and from the CLI."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import docx
from click.testing import CliRunner

from bot.cli import Context, cli
from bot.clock import FixedClock
from bot.settings import Settings
from tests.harness import NOW, Harness, ncscp_plan, teams_user
from tests.teams import card_of, card_texts

PLAN = ncscp_plan()
PRIYA = teams_user(PLAN, "priya.shah@ncscp.example.org")
RACHEL = teams_user(PLAN, "rachel.dunmore@ncscp.example.org")


async def test_the_business_unit_gets_a_link_that_works_for_an_hour(bot: Harness) -> None:
    bot.clock.instant = NOW
    reply = card_of(await bot.one("BMG paper", PRIYA))
    assert "Here is the BMG paper, with every update posted so far; the link works for an hour." in card_texts(reply)
    [button] = reply["actions"]
    assert button["type"] == "Action.OpenUrl"
    path = urlparse(button["url"]).path
    assert path.startswith("/papers/")

    got = await bot.client.get(path)
    assert got.status == 200
    assert got.headers["Content-Type"].startswith("application/vnd.openxmlformats-officedocument")
    assert 'filename="NCSCP BMG paper 2026-11-23.docx"' in got.headers["Content-Disposition"]
    paper = docx.Document(io.BytesIO(await got.read()))
    assert "Business Plan 2019-22" in "\n".join(p.text for p in paper.paragraphs)

    tampered = path[:-1] + ("0" if path[-1] != "0" else "1")
    assert (await bot.client.get(tampered)).status == 403
    bot.clock.instant = NOW + timedelta(hours=1, seconds=1)
    expired = await bot.client.get(path)
    assert expired.status == 403
    assert (await expired.json())["error"].startswith("this link has expired or is not valid")
    bot.clock.instant = NOW


async def test_leads_are_told_who_prepares_the_paper(bot: Harness) -> None:
    reply = await bot.one("BMG paper", RACHEL)
    assert reply["text"] == "The BMG paper is prepared by the business unit; please ask Gareth Lloyd or Priya Shah."


def test_the_paper_from_the_command_line(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'plan.db'}")
    context = Context(settings, FixedClock(NOW))
    CliRunner().invoke(cli, ["demo", "--rebase"], obj=context, catch_exceptions=False)
    out = tmp_path / "paper.docx"
    result = CliRunner().invoke(
        cli, ["export", "--partnership", "NCSCP", "--format", "docx", "--out", str(out)], obj=context
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote the BMG paper to {out}")
    assert docx.Document(str(out)).tables, "the paper has its tables"
