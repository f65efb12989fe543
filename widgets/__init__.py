from widgets.live_graph import LiveGraph
from widgets.progress import Progress
from widgets.run_timer import RunTimer
