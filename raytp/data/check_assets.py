"""`python -m raytp.data.check_assets`: verify the offline data and model packages (used by `make setup`)."""

from __future__ import annotations

import sys

from raytp.data.assets import complaints_csvs, disaster_csv, minilm_dir
from raytp.errors import RaytpError


def main() -> int:
    try:
        print(f"data:  {disaster_csv(verify=True)} (checksum ok)")
        print(f"model: {minilm_dir()}")
        for split, path in complaints_csvs(verify=True).items():
            print(f"complaints {split}: {path} (checksum ok)")
    except RaytpError as e:
        print(f"raytp: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
