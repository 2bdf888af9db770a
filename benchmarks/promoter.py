"""One writer of the throughput benchmark: ``python -m benchmarks.promoter URL TIMEFRAME
FIRST STEP LAST SECONDS`` crowns versions FIRST, FIRST+STEP, ... up to LAST for SECONDS,
then prints how many it crowned and the seconds it took."""

from __future__ import annotations

import sys
import time

from stagekeeper import Stage, open_registry


def main(url: str, timeframe: str, first: int, step: int, last: int, seconds: float) -> None:
    crowned = 0
    with open_registry(url, actor=f"writer-{first}") as registry:
        print("ready", flush=True)
        sys.stdin.readline()  # all start together
        started = time.monotonic()
        for version in range(first, last + 1, step):
            if time.monotonic() > started + seconds:
                break
            registry.promote(timeframe, version, Stage.CHAMPION)
            crowned += 1
        took = time.monotonic() - started
    print(crowned, took, flush=True)


if __name__ == "__main__":
    url, timeframe, *numbers = sys.argv[1:]
    main(url, timeframe, int(numbers[0]), int(numbers[1]), int(numbers[2]), float(numbers[3]))
