"""The pytest11 entry point ("bufsan"): it loads the plugin,
bufsan.pytest_plugin, by name. Naming the plugin module in the entry point
itself would register that module twice, under "bufsan" and under
"bufsan.pytest_plugin", whenever -p bufsan.pytest_plugin is also given (a
checkout's habit), which pluggy refuses with "Plugin already registered".
Through pytest_plugins the module is registered once, under its own name,
whichever way comes first; `-p no:bufsan` blocks the entry point."""
pytest_plugins = ["bufsan.pytest_plugin"]
