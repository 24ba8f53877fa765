"""The relay's client-side cost of taking one batch (not a test).

    .venv/bin/python bench/relay_take_cpu.py [--rows 500] [--takes 40] [--rounds 3]

In a throwaway database it commits ``--rows`` due outbox rows (the relay benchmark's message), then takes
them as the relay does (``take_batch``: locked, fetched, built into rows) ``--takes`` times per round, each
in a transaction rolled back, on uvloop as every role runs. It prints, per round, the relay process's CPU
and the wall time per take, and the CPU per row: what the relay spends before its first publish.
"""

from __future__ import annotations

import argparse
import time

import uvloop
from ceilings import message
from sqlalchemy import insert

from chassis.db import create_chassis_tables, create_engine
from chassis.outbox.store import driver_connection, take_batch
from chassis.tables import outbox
from chassis.uow import outbox_row
from testkit.resources import fresh_database


async def run(args: argparse.Namespace) -> None:
    async with fresh_database("folio_bench_take") as database_url:
        engine = create_engine(database_url, application_name="bench-take")
        try:
            await create_chassis_tables(engine)
            async with engine.begin() as loading:
                rows = [outbox_row(message(seq), source="/bench") for seq in range(args.rows)]
                await loading.execute(insert(outbox), rows)
            print(f"take_batch of {args.rows} due rows, {args.takes} takes per round (rolled back):")
            for round_ in range(1, args.rounds + 1):
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(args.takes):
                    async with engine.connect() as pooled:
                        connection = await driver_connection(pooled)
                        locking = connection.transaction()
                        await locking.start()
                        taken = await take_batch(connection, args.rows)
                        # Rolled back: the same rows are due again for the next take.
                        await locking.rollback()
                assert len(taken) == args.rows, f"took {len(taken)} of {args.rows}"
                cpu_ms = (time.process_time() - cpu) / args.takes * 1e3
                wall_ms = (time.perf_counter() - wall) / args.takes * 1e3
                print(
                    f"  round {round_}: {cpu_ms:6.2f} ms CPU, {wall_ms:6.2f} ms wall per take,"
                    f" {cpu_ms * 1e3 / args.rows:5.1f} µs CPU per row"
                )
        finally:
            await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=500, help="the relay's batch size")
    parser.add_argument("--takes", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
