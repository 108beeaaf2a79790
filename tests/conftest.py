"""Shared fixtures: a tiny studio built once per session, and helpers that make real files."""

from __future__ import annotations

import inspect
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# No test may reach the Hub: weights come from configs (tiny) or files the tests write.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
# How long an app started by a test may take to answer: ~15 s on a quiet machine, over 5 minutes
# with several suites sharing two cores. Waiting ends when it answers, so a long deadline is free.
APP_START_S = 600


@pytest.fixture(scope="session")
def tiny_engine():
    from cogvideo.engine.render import Engine

    return Engine("tiny")


@pytest.fixture()
def studio(tiny_engine, tmp_path):
    from cogvideo.studio import Studio

    return Studio(tiny_engine, tmp_path / "outputs")


@pytest.fixture()
def photo():
    """A 300×200 colourful RGB picture with structure (gradients and a disc)."""
    return make_photo(300, 200)


def make_photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack(
        [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), np.full_like(x, 128)], axis=-1
    ).astype(np.uint8)
    disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 4) ** 2
    rgb[disc] = (250, 230, 40)
    image = Image.fromarray(rgb)
    return image if mode == "RGB" else image.convert(mode)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_tiny_ddcolor(path: Path) -> Path:
    """A random-weight DDColor at its smallest size that spandrel still detects, saved to `path`."""
    import spandrel_extra_arches
    import torch

    spandrel_extra_arches.install(ignore_duplicates=True)
    from spandrel_extra_arches.architectures.DDColor import DDColor

    torch.manual_seed(0)
    model = DDColor(
        encoder_name="convnext-t", decoder_name="MultiScaleColorDecoder", input_size=(64, 64), nf=512,
        num_output_channels=2, last_norm="Spectral", num_queries=8, num_scales=3, dec_layers=1,
    )
    torch.save({k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return path


class Clock:
    """The time a test says it is (epoch seconds), for code that takes a clock: no sleeps."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Ran:
    """What a command said and how it ended, in subprocess.CompletedProcess's names."""
    returncode: int
    stdout: str
    stderr: str


def run_cogvideo(*words: str, stdin: str = "", env: dict[str, str] | None = None) -> Ran:
    """`python -m cogvideo WORDS` in this process: cli.main.main with the test's environment on top,
    run from the repository's folder, stdin from `stdin`, stdout and stderr kept, and log records
    of WARNING and up on stderr as main's `logging.basicConfig` prints them in a process of its own
    (here pytest's handlers are already on the root logger, so that call does nothing). Exits as
    the interpreter would: argparse's SystemExit gives its status, and a SystemExit with a message
    prints it and gives 1. One test per face still runs the real command in a subprocess
    (tests/test_cli.py, tests/test_jobs_cli.py)."""
    import contextlib
    import io
    import logging
    import sys

    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    logged = logging.StreamHandler(err)
    logged.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logged.setLevel(logging.WARNING)
    root = logging.getLogger()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for name, value in {"HF_HUB_OFFLINE": "1", **(env or {})}.items():
            patch.setenv(name, value)
        patch.chdir(ROOT)
        patch.setattr(sys, "stdin", io.StringIO(stdin))
        level = root.level
        root.setLevel(min(level, logging.WARNING))
        root.addHandler(logged)
        try:
            code = main(list(words))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) or exc.code is None else 1
            if not isinstance(exc.code, int) and exc.code is not None:
                print(exc.code, file=sys.stderr)
        finally:
            root.removeHandler(logged)
            root.setLevel(level)
    return Ran(code or 0, out.getvalue(), err.getvalue())


class _App:
    """What both kinds of test app share: a scripted chat server as the prompt agent, a free port,
    the folders, and the flags and environment the app starts with (a test's own values win: no
    prompt model, no colorizer...)."""

    def __init__(self, tmp: Path, data_dir: Path | None = None):
        from tests.chat_server import ChatServer, Reply

        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp
        self.chat = ChatServer(default=Reply(text=AGENT_REPLY)).start()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.output_dir = tmp / "outputs"
        self.data_dir = data_dir or tmp / "data"
        self.log_path = tmp / f"app-{self.port}.log"

    def environment(self, env: dict[str, str] | None) -> dict[str, str]:
        return {
            "HF_HUB_OFFLINE": "1", "OPENAI_BASE_URL": self.chat.url, "OPENAI_API_KEY": "test-key",
            "PROMPT_AGENT_MODEL": "test-model", "PROMPT_AGENT_VISION_MODEL": "test-vision",
            "PROMPT_AGENT_TIMEOUT": "5", "DDCOLOR_WEIGHTS": str(make_tiny_ddcolor(self.tmp / "ddcolor.pth")),
            "GRADIO_ANALYTICS_ENABLED": "False", **(env or {}),
        }

    def arguments(self, extra_args: tuple[str, ...]) -> list[str]:
        return ["--model", "tiny", "--port", str(self.port), "--output-dir", str(self.output_dir),
                "--data-dir", str(self.data_dir), "--max-queue", "8", *extra_args]


class RunningApp(_App):
    """`python app.py --model tiny` in a subprocess, with a scripted chat server as its prompt agent."""

    def __init__(self, tmp: Path, data_dir: Path | None = None, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None):
        import subprocess
        import sys
        import time
        import urllib.request

        super().__init__(tmp, data_dir)
        env = {**os.environ, **self.environment(env)}
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", *self.arguments(extra_args)],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + APP_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("app exited early:\n" + self.log_path.read_text()[-3000:])
            try:
                with urllib.request.urlopen(self.url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.close()
        raise RuntimeError(f"app did not answer in {APP_START_S} s:\n" + self.log_path.read_text()[-3000:])

    def log(self) -> str:
        return self.log_path.read_text()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()
        self._log.close()
        self.chat.stop()


class InProcessApp(_App):
    """The same app as `RunningApp` (app.py's `start`: the same flags, build, guards and routes, on a
    real port, with its own scripted chat server), started in the test's own process: no second
    interpreter importing torch, diffusers and Gradio. For the tests of what the faces answer; the
    ones that need a process of the app's own (its memory, its stdout, a kill) keep `RunningApp`.

    Its environment (the test's values over RunningApp's) and working folder (the repository's) are
    the process's until `close`; `log()` is what the loggers said, INFO and up, while it ran."""

    def __init__(self, tmp: Path, data_dir: Path | None = None, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None):
        import logging

        import app as studio_app

        super().__init__(tmp, data_dir)
        self._env = pytest.MonkeyPatch()
        for name, value in self.environment(env).items():
            self._env.setenv(name, value)
        self._env.chdir(ROOT)  # as RunningApp's process: Gradio resolves relative file paths from here
        self._handler = logging.FileHandler(self.log_path)
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self._handler.setLevel(logging.INFO)
        root = logging.getLogger()
        self._root_level = root.level
        root.addHandler(self._handler)
        root.setLevel(min(root.level or logging.WARNING, logging.INFO))
        try:
            self.started = studio_app.start(self.arguments(extra_args))
        except SystemExit as exc:  # a refused start, as RunningApp reports its process's exit
            self._let_go()
            raise RuntimeError(f"app exited early:\n{exc}\n" + self.log()[-3000:]) from None
        except BaseException:
            self._let_go()
            raise

    def log(self) -> str:
        self._handler.flush()
        return self.log_path.read_text()

    def close(self) -> None:
        try:
            self.started.stop()
        finally:
            self._let_go()

    def _let_go(self) -> None:
        import logging

        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(self._root_level)
        self._handler.close()
        self._env.undo()
        self.chat.stop()


AGENT_REPLY = (
    "A small wooden boat drifts across a calm mountain lake at sunset, golden light glittering on the "
    "ripples; thin clouds glide across an orange sky while the camera slowly pushes in."
)


SLOW_STEP_S = 0.25


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    running = RunningApp(tmp_path_factory.mktemp("app"))
    yield running
    running.close()


@pytest.fixture(scope="session")
def slow_app(tmp_path_factory):
    """An app of its own whose tiny model takes at least SLOW_STEP_S a step, for the tests that act
    while a job still renders (a reload mid-job): the plain tiny model finishes 150 steps in about
    3 s, sooner than a page reloads on a busy machine. No other test's job waits or renders here."""
    running = RunningApp(tmp_path_factory.mktemp("slow-app"), env={"STUDIO_TINY_STEP_S": str(SLOW_STEP_S)})
    yield running
    running.close()


@pytest.fixture(scope="session")
def client(app):
    from gradio_client import Client

    return Client(app.url, verbose=False)


# A test that starts another process (the app, a browser, Ray, the CLI, a script) or a whole app in
# its own (InProcessApp) is slow: it carries the `slow` mark, so `python -m pytest -m "not slow"`
# runs the rest in minutes. Found from the source of the test and of every fixture it uses, so a
# new test is marked without anyone remembering to.
STARTS_A_PROCESS = re.compile(
    r"RunningApp\(|InProcessApp\(|subprocess\.|RayWorkers\.start|ray\.init\(|chromium|Popen\(")


def _starts_a_process(function) -> bool:
    try:
        return bool(STARTS_A_PROCESS.search(inspect.getsource(function)))
    except (OSError, TypeError):
        return False


def _helpers(function) -> list:
    """The functions and classes of the test's own module that `function` uses by name (one level:
    run_cli, RayApp...)."""
    names = getattr(getattr(function, "__code__", None), "co_names", ())
    module = getattr(function, "__globals__", {})
    return [module[name] for name in names
            if (inspect.isfunction(module.get(name)) or inspect.isclass(module.get(name)))
            and module[name].__module__ == function.__module__]


def pytest_collection_modifyitems(config, items):
    verdicts: dict = {}

    def slow(function) -> bool:
        if function not in verdicts:
            verdicts[function] = _starts_a_process(function) or any(map(_starts_a_process, _helpers(function)))
        return verdicts[function]

    for item in items:
        functions = [getattr(item, "function", None)]
        for definitions in item._fixtureinfo.name2fixturedefs.values():
            functions += [definition.func for definition in definitions]
        if any(slow(f) for f in functions if f is not None) or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
