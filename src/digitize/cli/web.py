"""`digitize web`: the reading service (the public site, IIIF, the staff area, OAI-PMH), or the
coordinators' dashboard alone (--staff) or as one static file (--export)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from digitize.cli.language import _, described
from digitize.cli.output import console


@described(_("The reading service: the public site (libraries, items, the viewer), IIIF images and manifests, the "
             "staff area (/staff/, signed in) and OAI-PMH at /oai, with every link under DIGITIZE_PUBLIC_URL. With"
             " --staff, the coordinators' dashboard alone at / (Vietnamese; ?lang=en for English), on a loopback "
             "address only."))
def web(host: str = typer.Option("127.0.0.1", "--host", help=_("address to listen on")),
        port: int = typer.Option(8000, "--port", help=_("port to listen on")),
        export: Optional[Path] = typer.Option(None, "--export", help=_("write the dashboard as one static HTML "
                                                                     "file instead of serving it")),
        lang: str = typer.Option("vi", "--lang", help=_("vi or en (for --export)")),
        staff: bool = typer.Option(False, "--staff", help=_("serve only the coordinators' dashboard, at / "
                                                          "(on a loopback --host only, no sign-in)")),
        workers: int = typer.Option(1, "--workers", min=1, help=_("server processes"))) -> None:
    from datetime import date

    from sqlalchemy.orm import Session

    from digitize.access import dashboard, reading
    from digitize.ledger import database as ledger
    from digitize.ledger.plans import load_plans
    from digitize.core.settings import get_settings
    from digitize.web.app import create_app, require_loopback, server_options

    if staff and not export:
        require_loopback(host)
    settings = get_settings()
    session = ledger.open_ledger(settings.ledger_url)
    plans = load_plans(settings.profiles)
    if export:
        export.write_text(dashboard.render(session, plans, date.today(), lang, data=settings.data), encoding="utf-8")
        console.print(f"dashboard written to {export}")
        return
    import uvicorn

    if staff:
        engine = session.get_bind()
        uvicorn.run(create_app(lambda: Session(engine), plans, staff=True, data=settings.data), host=host, port=port, **server_options())
        return
    settings.links()  # what every worker checks: said once, here, before any starts
    settings.token_key()
    reading.networks(settings.reading_rooms, "DIGITIZE_READING_ROOMS")
    reading.networks(settings.trusted_proxies, "DIGITIZE_TRUSTED_PROXIES")
    console.print(f"reading service on http://{host}:{port}, published as {settings.links().base}")
    uvicorn.run("digitize.web.app:app_from_settings", factory=True, host=host, port=port, workers=workers,
                proxy_headers=False, **server_options())
