"""The package's layout: no import cycle, a small root, and a public API that loads no torch."""

import subprocess
import sys
from pathlib import Path

import grimp

import align3r

ROOT_MODULES = {"__init__", "__main__", "atomic", "cli", "errors", "geometry", "hub", "reconstruction", "settings"}


def _in_fresh_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_and_help_load_no_torch():
    imported = _in_fresh_python("import sys, align3r; print('torch' in sys.modules)")
    assert imported.stdout.strip() == "False", imported.stderr
    helped = _in_fresh_python("import sys\nfrom align3r.cli import main\ntry:\n    main(['--help'])\n"
                              "except SystemExit as exit:\n    assert exit.code == 0\nprint('torch' in sys.modules)")
    assert helped.stdout.strip().splitlines()[-1] == "False", helped.stderr
    assert "run" in helped.stdout and "demo" in helped.stdout  # every subcommand is listed


def test_public_api_resolves_lazily():
    assert set(align3r.__all__) >= {"load_model", "load_prior", "reconstruct", "ReconstructConfig", "Reconstruction",
                                    "KnownInputs"}
    for name in align3r.__all__:
        assert getattr(align3r, name).__name__ == name


def test_root_holds_only_what_every_layer_uses():
    root = Path(align3r.__file__).parent
    assert {p.stem for p in root.glob("*.py")} <= ROOT_MODULES


def test_no_import_cycle():
    graph = grimp.build_graph("align3r")
    cycles = [(a, b) for a in graph.modules for b in graph.find_modules_directly_imported_by(a)
              if graph.chain_exists(importer=b, imported=a)]
    assert cycles == []
