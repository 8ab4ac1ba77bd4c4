"""The dashboard's screens: the main dashboard and the modal help, editor and preset picker."""

from .config_editor import ConfigEditorScreen
from .dashboard import DashboardScreen
from .help import HelpScreen
from .preset_picker import PresetPickerScreen

__all__ = ["ConfigEditorScreen", "DashboardScreen", "HelpScreen", "PresetPickerScreen"]
