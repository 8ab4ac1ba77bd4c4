"""The dashboard's screens: the main dashboard and the modal help, editor and preset picker,
the tuning view and its SLO prompt."""

from .config_editor import ConfigEditorScreen
from .dashboard import DashboardScreen
from .help import HelpScreen
from .preset_picker import PresetPickerScreen
from .slo_prompt import SloPromptScreen
from .tuning import TuningScreen

__all__ = ["ConfigEditorScreen", "DashboardScreen", "HelpScreen", "PresetPickerScreen", "SloPromptScreen", "TuningScreen"]
