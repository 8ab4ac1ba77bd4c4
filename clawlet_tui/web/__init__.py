"""The web view: ``clawlet-tui web`` serves the dashboard to a browser (issue 16).

- :mod:`.command`: the command's options, the dashboard command line each browser tab
  runs, and the one-line error when the ``web`` extra (textual-serve) is missing;
- :mod:`.server`: :class:`~.server.WebView`, the HTTP and websocket server, on
  textual-serve's app relay and static files, with a page that loads nothing from
  another host.

Nothing here imports textual-serve until the server is started, so the rest of clawlet
works without the extra.  See docs/web.md.
"""
