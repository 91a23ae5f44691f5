"""Cold import of `app`, as Lambda does it (a fresh interpreter, `import app`), against
the floor of this stack (bench/floor_app: Chalice, boto3 and pydantic, nothing else).

Both apps are copied from a clean checkout (app.py and chalicelib/, without __pycache__)
in two variants: "compiled", with unchecked-hash .pyc as `make package` ships them (the
goal is judged on this one), and "source", compiled at import as a plain `chalice package`
would ship them (Lambda's /var/task is read-only, so nothing is cached). Samples alternate
between the apps so that a busy machine slows both alike; the figures are medians, and a
ratio is the median of each round's app / floor.
"""

import compileall
import json
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = Path(__file__).resolve().parent / "floor_app"
STAGE = "test"
GOAL_RATIO = 1.15
# Times only the import, not the interpreter's start-up (the same for both apps).
PROBE = (
    "import time\n"
    "t, c = time.perf_counter(), time.process_time()\n"
    "import app\n"
    "print(time.perf_counter() - t, time.process_time() - c)\n"
)
# Lists the pydantic models of chalicelib whose schema was built during the import.
BUILT_MODELS_PROBE = (
    "import sys, app, pydantic\n"
    "print(sorted({f'{m.__module__}.{m.__name__}' for mod in list(sys.modules.values())\n"
    "    if getattr(mod, '__name__', '').startswith('chalicelib')\n"
    "    for m in vars(mod).values() if isinstance(m, type) and issubclass(m, pydantic.BaseModel)\n"
    "    and m.__module__.startswith('chalicelib') and m.__pydantic_complete__}))\n"
)


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


@dataclass
class ColdStart:
    samples: int
    variants: dict[str, dict[str, Samples]]  # variant -> "app" | "floor" -> samples
    load: str = ""  # the machine's load average before -> after

    def ratio(self, variant: str, clock: str = "wall") -> float:
        """The median of each round's app / floor: the two ran side by side, so that the
        machine's drift (the floor's median moved by 15 % between runs here) cancels out."""
        app, floor = self.variants[variant]["app"], self.variants[variant]["floor"]
        return statistics.median(a / f for a, f in zip(getattr(app, clock), getattr(floor, clock), strict=True))


def lambda_env() -> dict[str, str]:
    """The environment of a function of the test stage: its variables, no endpoint."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    env.update(config.get("environment_variables", {}))
    env.update(config["stages"][STAGE].get("environment_variables", {}))
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", PYTHONDONTWRITEBYTECODE="1")
    return env


def package(source: Path, dest: Path, *, compiled: bool) -> Path:
    """app.py and chalicelib/ as a deployment package holds them."""
    dest.mkdir(parents=True)
    shutil.copy2(source / "app.py", dest / "app.py")
    if (source / "chalicelib").is_dir():
        shutil.copytree(source / "chalicelib", dest / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    if compiled:
        compileall.compile_dir(
            dest, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, workers=1
        )
    return dest


@contextmanager
def packages(variants: tuple[str, ...]) -> Iterator[dict[str, dict[str, Path]]]:
    with tempfile.TemporaryDirectory(prefix="oze-bench-") as tmp:
        yield {
            variant: {
                name: package(source, Path(tmp) / variant / name, compiled=variant == "compiled")
                for name, source in (("app", ROOT), ("floor", FLOOR))
            }
            for variant in variants
        }


def _python(code: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *flags, "-c", code], cwd=cwd, env=lambda_env(), capture_output=True, text=True, check=True
    )


def import_once(directory: Path) -> tuple[float, float]:
    wall, cpu = _python(PROBE, directory).stdout.split()
    return float(wall), float(cpu)


def measure(samples: int = 15, variants: tuple[str, ...] = ("source", "compiled")) -> ColdStart:
    results = {variant: {"app": Samples(), "floor": Samples()} for variant in variants}
    load_before = os.getloadavg()[0]
    with packages(variants) as dirs:
        for variant in variants:
            for name in ("app", "floor"):
                import_once(dirs[variant][name])  # warm the page cache; not counted
        for i in range(samples):
            # A round runs each variant's app and floor side by side, the app first one round
            # in two, and the variants in turn: no app always runs first (or after the other).
            for variant in variants[i % len(variants) :] + variants[: i % len(variants)]:
                for name in ("app", "floor") if i % 2 == 0 else ("floor", "app"):
                    wall, cpu = import_once(dirs[variant][name])
                    results[variant][name].wall.append(wall)
                    results[variant][name].cpu.append(cpu)
    return ColdStart(samples, results, f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}")


# --- what the import costs ------------------------------------------------------------


def _self_times(directory: Path, runs: int) -> dict[str, float]:
    """Mean self time (µs) of each module imported by `import app`, from -X importtime."""
    totals: Counter[str] = Counter()
    for _ in range(runs):
        for line in _python("import app", directory, "-X", "importtime").stderr.splitlines():
            if line.startswith("import time:") and "self [us]" not in line:
                self_us, _cumulative, name = line.removeprefix("import time:").split("|")
                totals[name.strip()] += int(self_us)
    return {name: total / runs for name, total in totals.items()}


def _group(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] in ("chalicelib", "boto3", "botocore") else parts[0]


def import_costs(runs: int = 5) -> dict:
    """What `app` imports beyond the floor, and which models build their schema at import."""
    with packages(("source",)) as dirs:
        app, floor = _self_times(dirs["source"]["app"], runs), _self_times(dirs["source"]["floor"], runs)
        built = _python(BUILT_MODELS_PROBE, dirs["source"]["app"]).stdout.strip()
    extra = {name: us for name, us in app.items() if name not in floor}
    groups: defaultdict[str, float] = defaultdict(float)
    for name, us in extra.items():
        groups[_group(name)] += us
    return {
        "app_total_ms": sum(app.values()) / 1000,
        "floor_total_ms": sum(floor.values()) / 1000,
        "extra_ms": sum(extra.values()) / 1000,
        "groups_ms": {g: us / 1000 for g, us in sorted(groups.items(), key=lambda kv: -kv[1])},
        "app_module_ms": app.get("app", 0) / 1000,
        "models_built_at_import": built,
    }


def model_areas(runs: int = 5) -> dict[str, float]:
    """What each area of chalicelib/models costs on its first use (CPU ms, median), after
    `import app`: the models a cold start loads with its route's first call."""
    code = (
        "import time, importlib, app\n"
        "c = time.process_time()\n"
        "importlib.import_module('chalicelib.models.{area}')\n"
        "print(time.process_time() - c)\n"
    )
    areas = sorted(p.stem for p in (ROOT / "chalicelib" / "models").glob("*.py") if p.stem != "__init__")
    with packages(("compiled",)) as dirs:
        return {
            area: statistics.median(
                float(_python(code.format(area=area), dirs["compiled"]["app"]).stdout) for _ in range(runs)
            )
            * 1000
            for area in areas
        }


# --- report ---------------------------------------------------------------------------


def report(result: ColdStart) -> str:
    lines = [
        f"Cold import of `app` vs the floor (bench/floor_app), {result.samples} alternating samples each,"
        f" fresh interpreters, stage {STAGE!r} environment; medians, and ratios as the median of each"
        " round's app / floor:",
        f"  {'variant':<10}{'app wall':>10}{'floor wall':>12}{'ratio':>8}{'app CPU':>10}{'floor CPU':>11}{'ratio':>8}",
    ]
    for variant, runs in result.variants.items():
        app, floor = runs["app"], runs["floor"]
        lines.append(
            f"  {variant:<10}{app.wall_median * 1000:>8.0f}ms{floor.wall_median * 1000:>10.0f}ms"
            f"{result.ratio(variant):>8.2f}{app.cpu_median * 1000:>8.0f}ms{floor.cpu_median * 1000:>9.0f}ms"
            f"{result.ratio(variant, 'cpu'):>8.2f}"
        )
    shipped = result.ratio("compiled", "cpu")
    verdict = "met" if shipped <= GOAL_RATIO else "NOT met"
    lines += [
        f"  goal: ratio <= {GOAL_RATIO} for the package as shipped (compiled, CPU): {shipped:.2f}, {verdict}",
        "  (compiled: .pyc shipped, as `make package` does (devtools/package.py); source: compiled at import,",
        "  as a plain `chalice package` would ship it.",
        "  The goal is judged on CPU time: an import is CPU-bound, and on a shared machine the wall clock",
        f"  also counts waiting for a core. Load average during the run: {result.load}.)",
    ]
    return "\n".join(lines)


def report_costs(costs: dict) -> str:
    groups = ", ".join(f"{name} {ms:.1f}" for name, ms in list(costs["groups_ms"].items())[:12])
    return "\n".join(
        [
            "Import cost beyond the floor (python -X importtime, self times, mean of several runs):",
            f"  app {costs['app_total_ms']:.0f} ms, floor {costs['floor_total_ms']:.0f} ms;"
            f" modules only the app imports: {costs['extra_ms']:.0f} ms;"
            f" app.py's own body: {costs['app_module_ms']:.1f} ms",
            f"  by package (ms): {groups}",
            f"  pydantic models whose schema is built at import (no defer_build): {costs['models_built_at_import']}",
        ]
    )


def report_areas(areas: dict[str, float]) -> str:
    costs = ", ".join(f"{area} {ms:.1f}" for area, ms in areas.items())
    return "\n".join(
        [
            "Models, loaded with their route's first call, not at import (CPU ms of an area's first use, as shipped):",
            f"  {costs}",
            "  (base, shared, loads with the first area; a route loads one or two areas: body and answer)",
        ]
    )
