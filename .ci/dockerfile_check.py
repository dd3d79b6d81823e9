"""Checks the Dockerfile without a container engine: it is parsed with BuildKit's own parser (the
`dockerfile` package wraps it), then its stages and instructions are held to what STYLE.md asks of
the image: multi-stage, built --locked for a static musl target, a distroless or scratch final
stage without RUN, a numeric non-root USER equal to the chart's securityContext, no shell.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import dockerfile

FINAL_BASES = ("gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12",
               "gcr.io/distroless/static:nonroot", "scratch")
OCI_LABELS = ("org.opencontainers.image.title", "org.opencontainers.image.source",
              "org.opencontainers.image.licenses", "org.opencontainers.image.version",
              "org.opencontainers.image.description")


def _stages(commands):
    stages = []
    for command in commands:
        if command.cmd == "FROM":
            flags = [v for v in command.value]
            name = flags[2] if len(flags) >= 3 and flags[1].upper() == "AS" else None
            stages.append({"base": flags[0], "name": name, "commands": []})
        elif stages:
            stages[-1]["commands"].append(command)
    return stages


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last matching rule wins)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        candidates = {pattern, pattern.replace("**/", "")}
        if any(fnmatch.fnmatch(path, c) or path.startswith(c + "/") for c in candidates):
            ignored = not negate
    return ignored


def checks(dockerfile_path: Path, dockerignore_path: Path, runtime_ids: tuple) -> list[tuple[str, list[str]]]:
    results: list[tuple[str, list[str]]] = []
    root = dockerfile_path.parent
    try:
        commands = dockerfile.parse_file(str(dockerfile_path))
    except Exception as e:  # the parser's GoParseError
        return [("Dockerfile parses (BuildKit's parser)", [str(e)])]
    results.append(("Dockerfile parses (BuildKit's parser)", []))

    stages = _stages(commands)
    problems = []
    if len(stages) != 2:
        problems.append(f"{len(stages)} stages, expected a builder and a final stage")
    results.append(("Dockerfile has two stages: builder and runtime", problems))
    if len(stages) != 2:
        return results
    builder, final = stages

    problems = []
    match = re.fullmatch(r"(docker\.io/(library/)?)?rust:(\d+\.\d+(\.\d+)?)(-[a-z0-9-]+)?(@sha256:[0-9a-f]{64})?", builder["base"])
    if not match:
        problems.append(f"builder is {builder['base']}, not the official rust image pinned by version")
    else:
        floor = tomllib.loads((root / "Cargo.toml").read_text())["package"].get("rust-version", "0")
        have = tuple(int(x) for x in match.group(3).split("."))[:2]
        if have < tuple(int(x) for x in floor.split("."))[:2]:
            problems.append(f"rust {match.group(3)} is older than rust-version {floor}")
    if not builder["name"]:
        problems.append("the builder stage is not named (FROM ... AS builder)")
    results.append(("builder: official Rust image pinned by version, at least Cargo.toml's rust-version", problems))

    runs = [" ".join(c.value) for c in builder["commands"] if c.cmd == "RUN"]
    builds = [r for r in runs if "cargo build" in r]
    problems = []
    if len(builds) != 1:
        problems.append(f"{len(builds)} `cargo build` steps, expected 1")
    for build in builds:
        for flag in ("--release", "--locked", "--target"):
            if flag not in build:
                problems.append(f"cargo build without {flag}")
    if not any("musl" in r for r in runs):
        problems.append("no musl target")
    if not any("musl-tools" in r for r in runs):
        problems.append("musl-tools is not installed (mimalloc's C code needs musl-gcc)")
    if not any("readelf" in r and "NEEDED" in r for r in runs):
        problems.append("the binary is not checked to be static")
    results.append(("builder: one `cargo build --release --locked` for a musl target, checked static", problems))

    patterns = [l.strip() for l in dockerignore_path.read_text().splitlines() if l.strip() and not l.startswith("#")]
    problems = []
    for command in builder["commands"]:
        if command.cmd in ("COPY", "ADD") and not any(f.startswith("--from") for f in command.flags):
            for source in command.value[:-1]:
                source = source.rstrip("/")
                if not (root / source).exists():
                    problems.append(f"{command.cmd} {source}: no such file in the repository")
                elif _ignored(source, patterns):
                    problems.append(f"{command.cmd} {source}: excluded by .dockerignore")
    for excluded in ("target", ".git", "docs", "charts", "tests"):
        if not _ignored(excluded, patterns):
            problems.append(f".dockerignore lets {excluded}/ into the build context")
    results.append((".dockerignore admits what the build copies and keeps target/, .git/, docs/ out", problems))

    problems = []
    if final["base"] not in FINAL_BASES:
        problems.append(f"final stage is {final['base']}, not distroless static or scratch")
    kinds = [c.cmd for c in final["commands"]]
    for forbidden in ("RUN", "ADD", "SHELL"):
        if forbidden in kinds:
            problems.append(f"{forbidden} in the final stage")
    copies = [c for c in final["commands"] if c.cmd == "COPY"]
    if not copies or not all(any(f == f"--from={builder['name']}" for f in c.flags) for c in copies):
        problems.append("the final stage copies something other than the builder's binary")
    results.append(("runtime: distroless static (or scratch), no RUN, ADD or SHELL, only the built binary", problems))

    problems = []
    users = [c.value[0] for c in final["commands"] if c.cmd == "USER"]
    if len(users) != 1:
        problems.append(f"{len(users)} USER instructions in the final stage, expected 1")
    else:
        match = re.fullmatch(r"(\d+)(?::(\d+))?", users[0])
        if not match:
            problems.append(f"USER {users[0]} is not numeric (runAsNonRoot needs a numeric user)")
        else:
            uid, gid = int(match.group(1)), int(match.group(2) or match.group(1))
            if uid == 0:
                problems.append("USER is root")
            if (uid, gid) != tuple(runtime_ids):
                problems.append(f"USER {uid}:{gid} differs from the chart's runAsUser:runAsGroup {runtime_ids[0]}:{runtime_ids[1]}")
    results.append((f"runtime: numeric non-root USER equal to the chart's securityContext ({runtime_ids[0]}:{runtime_ids[1]})", problems))

    problems = []
    entry = [c for c in final["commands"] if c.cmd == "ENTRYPOINT"]
    cmd = [c for c in final["commands"] if c.cmd == "CMD"]
    if len(entry) != 1 or not entry[0].json or list(entry[0].value) != ["/kube-spread"]:
        problems.append('ENTRYPOINT is not ["/kube-spread"] (exec form: there is no shell)')
    if len(cmd) != 1 or not cmd[0].json or list(cmd[0].value) != ["run"]:
        problems.append('CMD is not ["run"]')
    labels = {}
    for command in final["commands"]:
        if command.cmd == "LABEL":
            values = list(command.value)
            labels.update({values[i]: values[i + 1] for i in range(0, len(values) - 1, 2)})
    for label in OCI_LABELS:
        if label not in labels:
            problems.append(f"no {label} label")
    version = tomllib.loads((root / "Cargo.toml").read_text())["package"]["version"]
    args = {c.value[0].split("=", 1)[0]: c.value[0].split("=", 1)[1] for c in final["commands"]
            if c.cmd == "ARG" and "=" in c.value[0]}
    if args.get("VERSION") != version:
        problems.append(f"ARG VERSION is {args.get('VERSION')}, the crate is {version}")
    results.append(('runtime: ENTRYPOINT ["/kube-spread"], CMD ["run"], OCI labels, version = crate version', problems))
    return results
