"""The Textual dashboard.  It reads :class:`MetricsSnapshot` objects and calls engine controls; nothing else.

Entry point: :func:`clawlet_tui.tui.app.run_dashboard`.
"""
