"""`make demo`: migrate a real bootable sample disk through a local rehost and boot the image.

Builds the sample BIOS/MBR disk and a data disk in `./.demo/` (or `$REHOST_DEMO_DIR`), starts
`rehost server` on free loopback ports (SQLite), imports the disks with `rehost agent import`,
runs `rehost agent run`, creates an immediate job that grows the system disk by 1 GiB, waits
with a progress bar, then boots the image with `rehost image verify` and prints the guest's
marker line. Every process is stopped on exit or CTRL-C.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import TypedDict

from rehost.sample import build_boot_disk, build_data_disk, expected_marker, missing_tools
from rehost.sample.disk import BootDisk, DataDisk
from rehost.sample.kernel import KernelFetchError
from rehost.sample.stack import LocalStack, StackError, start_stack

GIB = 1024**3
SYSTEM_GIB = 1
GROW_GIB = 1
DATA_BYTES = 64 * 1024 * 1024
JOB_TIMEOUT_S = 600
VERIFY_TIMEOUT_S = 300
RUNTIME_TOOLS = ("qemu-system-x86_64", "e2fsck", "resize2fs", "qemu-img")


class DemoError(RuntimeError):
    """A demo step failed; the message is bilingual and says what to do."""


def say(en: str, zh: str) -> None:
    """One progress line, English then Chinese."""
    print(f"==> {en}\n    {zh}", flush=True)


def demo_dir() -> Path:
    """Where the demo keeps its disks, server data and logs."""
    return Path(os.environ.get("REHOST_DEMO_DIR") or ".demo").resolve()


def check_tools() -> None:
    """Refuse to start without the host tools, naming the fix."""
    path = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
    missing = missing_tools() + [t for t in RUNTIME_TOOLS if shutil.which(t, path=path) is None]
    if missing:
        raise DemoError(
            f"Missing tools: {', '.join(missing)}. Run: sudo bash scripts/install-system-deps.sh "
            f"demo\n缺少工具：{', '.join(missing)}。请运行：sudo bash "
            f"scripts/install-system-deps.sh demo")


def build_sample(root: Path) -> tuple[BootDisk, DataDisk]:
    """The bootable BIOS/MBR system disk and its data disk."""
    say(f"Building the sample disks in {root}", f"正在 {root} 中构建示例磁盘")
    root.mkdir(parents=True, exist_ok=True)
    try:
        system = build_boot_disk(root / "system.img", boot_mode="BIOS",
                                 size_bytes=SYSTEM_GIB * GIB)
        data = build_data_disk(root / "data.img", size_bytes=DATA_BYTES)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise DemoError(f"Building the sample disks failed: {exc} {detail!r}\n"
                        f"构建示例磁盘失败：{exc}") from exc
    print(f"    system disk: {system.path} ({SYSTEM_GIB} GiB, BIOS/MBR)\n"
          f"    data disk:   {data.path}\n    the guest should print: "
          f"{expected_marker(system, data)}", flush=True)
    return system, data


# a few seconds of syncing for the sample disk: enough to watch the progress line move
DEMO_LIMIT_KBPS = 1024


def migrate(stack: LocalStack, system: BootDisk, data: DataDisk) -> str:
    """Import, run the agent, create an immediate job and wait for it; the job id."""
    say("Importing the sample disks as a source", "正在将示例磁盘导入为迁移源")
    source_id = stack.import_source(stack.root / "agent", system=system.path, data=data.path,
                                    name="demo-source")
    stack.start_agent(stack.root / "agent")
    target = SYSTEM_GIB + GROW_GIB
    say(f"Creating job: source {source_id}, system disk {SYSTEM_GIB} -> {target} GiB, "
        f"zstd level 1, checksum on, limited to {DEMO_LIMIT_KBPS} KB/s so progress is visible",
        f"正在创建迁移任务：迁移源 {source_id}，系统盘 {SYSTEM_GIB} -> {target} GiB，"
        f"zstd 压缩级别 1，开启校验，限速 {DEMO_LIMIT_KBPS} KB/s 以便观察进度")
    job = stack.json("job", "create", "--source", source_id, "--region", "local",
                     "--system-disk-size", str(target), "--data-disk", "1:1",
                     "--image-name", "demo-image", "--mode", "immediate",
                     "--compress-level", "1", "--checksum",
                     "--bandwidth-limit", str(DEMO_LIMIT_KBPS))
    job_id = str(job["job_id"])
    if stack.show("job", "wait", job_id, "--timeout", str(JOB_TIMEOUT_S), "--interval",
                  "0.5") != 0:
        stack.show("job", "logs", job_id)
        raise DemoError(f"Job {job_id} did not finish; its log is above.\n"
                        f"迁移任务 {job_id} 未完成，日志见上方。")
    return job_id


class ManifestDisk(TypedDict):
    """A disk of an image's manifest (storage/manifest.py), as the demo prints it."""

    index: int
    file: str
    size_bytes: int


class Manifest(TypedDict, total=False):
    """The part of an image's manifest.json the demo reads."""

    disks: list[ManifestDisk]


class ImageDoc(TypedDict, total=False):
    """`rehost image describe` (`ImageOut`), plus the directory of its files (`path`)."""

    image_id: str
    name: str
    region_id: str
    job_id: str | None
    source_id: str | None
    manifest: Manifest
    verify_result: str
    creation_time: str | None
    path: str


def image_of(stack: LocalStack, job_id: str) -> ImageDoc:
    """The finished job's image and where its files are."""
    image_id = str(stack.json("job", "describe", job_id)["image_id"])
    image: ImageDoc = stack.json("image", "describe", image_id)
    regions = stack.json("region", "list")["regions"]
    store = next(r["image_store_path"] for r in regions if r["region_id"] == image["region_id"])
    image["path"] = str(Path(store) / image_id)
    say(f"Image {image_id} is at {image['path']}", f"镜像 {image_id} 位于 {image['path']}")
    for disk in image["manifest"].get("disks", []):
        print(f"    disk {disk['index']}: {disk['file']} {disk['size_bytes'] / GIB:.1f} GiB",
              flush=True)
    return image


def boot(stack: LocalStack, image: ImageDoc, expected: str) -> None:
    """Boot the image with `rehost image verify` and print the guest's marker line."""
    say("Booting the image in QEMU (rehost image verify)",
        "正在 QEMU 中启动镜像（rehost image verify）")
    done = stack.run("image", "verify", str(image["image_id"]), "--timeout",
                     str(VERIFY_TIMEOUT_S), "--output", "json", check=False,
                     timeout_s=VERIFY_TIMEOUT_S + 120)
    doc = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    if done.returncode != 0 or not doc.get("passed"):
        raise DemoError(f"The image did not boot: {doc.get('reason') or done.stderr.strip()} "
                        f"(console log {doc.get('log_path')})\n镜像未能启动："
                        f"{doc.get('reason_zh') or doc.get('reason') or done.stderr.strip()}")
    print(f"    PASS in {doc['duration_s']:.1f} s ({doc['accelerator']}); guest says:\n\n"
          f"    {doc['matched_line']}\n", flush=True)
    same = doc["matched_line"] == expected
    say("The guest's file tree hashes match the source disks" if same else
        "WARNING: the guest's hashes differ from the source's",
        "客户机中的文件树哈希与源磁盘一致" if same else "警告：客户机中的哈希与源磁盘不一致")
    if not same:
        raise DemoError(f"expected {expected}\n期望的标记行：{expected}")


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signum)


def run(root: Path) -> None:
    """The whole demo; processes are stopped whatever happens."""
    check_tools()
    shutil.rmtree(root / "run", ignore_errors=True)
    system, data = build_sample(root)
    say("Starting the rehost server (SQLite, loopback)",
        "正在启动 rehost 服务器（SQLite，本机回环）")
    stack = start_stack(root / "run")
    try:
        print(f"    endpoint {stack.endpoint}; logs in {stack.root}", flush=True)
        job_id = migrate(stack, system, data)
        boot(stack, image_of(stack, job_id), expected_marker(system, data))
        say("Demo finished.", "演示完成。")
    finally:
        stack.stop()


def main() -> int:
    """`python -m rehost.demo`: 0 on success, 1 with a bilingual message otherwise."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run(demo_dir())
    except KeyboardInterrupt:
        print("\nInterrupted; processes stopped. 已中断，进程已停止。", file=sys.stderr)
        return 130
    except (DemoError, StackError, KernelFetchError) as exc:
        print(f"\nrehost demo failed / 演示失败:\n{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
