"""The package installs and imports as users expect."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def test_imports_and_bundled_examples():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import groove, groove.tokenizers, groove.midi; print(groove.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "0.1.0"
    import groove

    for name in ("band.mid", "chorale.mid"):
        assert os.path.getsize(groove.example_path(name)) > 100


def test_console_script_is_installed():
    exe = shutil.which("groove", path=str(Path(sys.executable).parent))
    assert exe, "the 'groove' console script is not installed next to this Python"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "groove 0.1.0"


def test_fluidsynth_library_is_installed():
    # setup.sh installs FluidSynth with apt; pyfluidsynth loads its shared library
    # at import and raises ImportError when it is missing.
    import fluidsynth

    synth = fluidsynth.Synth(samplerate=22050.0)
    synth.delete()


def test_help_shows_every_option_of_the_public_functions():
    import pydoc

    import groove

    options = {
        "transfer": ["content", "style", "model", "roles", "temperature", "top_k", "top_p",
                     "seed", "keep_melody", "max_tokens"],
        "generate": ["primer", "model", "max_tokens", "seconds", "temperature", "top_k",
                     "top_p", "seed", "num_samples", "sampler", "style", "program"],
        "style_embedding": ["style", "model", "role"],
    }  # fmt: skip
    for name, wanted in options.items():
        text = pydoc.render_doc(getattr(groove, name), renderer=pydoc.plaintext)
        signature = next(line for line in text.splitlines() if line.startswith(f"{name}("))
        for option in wanted:
            assert f"{option}:" in signature or f"{option}=" in signature, (name, option)
        assert "Args:" in text and "Returns:" in text


def test_importing_groove_stays_light():
    code = (
        "import sys, groove; groove.example_path(); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'symusic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
