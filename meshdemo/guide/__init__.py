"""Read an MkDocs project into pages and steps; nothing here runs or renders a step.

One module a concern:

* ``project``: ``load_project``: MkDocs' configuration and nav, mkdocs-macros, every page
  through the page reader, ids unique across the project; ``cache`` keeps the result in
  ``.meshdemo/`` while nothing it was read from changed;
* ``mkdocs_config``: the bridge to MkDocs (configuration, nav lines, the macros plugin driven
  alone, MkDocs' log kept quiet);
* ``pages``: the page reader: the fences of one rendered page become steps
  (``read_rendered_page``: steps with their lines in the page file, and where their fences
  sit in the rendered text); ids are checked here;
* ``fences``: markdown-it's block rules, admonitions and tabs, and fence info strings;
* ``options``: the table of step options. A new option is a row there, a field in
  ``meshdemo.model.StepOptions``, and its behaviour where it acts (``meshdemo.run``);
* ``linemap``: a line of the rendered page back to its line in the page file;
* ``lint``: what ``meshdemo check`` finds in a project that loaded: shellcheck, Python syntax,
  stale captures, pages left out of the nav, and the commands against the CLIs' contracts
  (``invocations``, ``shell``, ``contracts/``).
"""
