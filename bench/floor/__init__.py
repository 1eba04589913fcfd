"""The floor for bench/submission_load.py: the least a Django view on this server can do with an
intake's JSON body, which is to parse it and store it in one table row.

It exists only for the benchmarks: ``bench.floor.settings`` (the clinic's settings plus this app
and its one URL) is what the benchmark's gunicorn runs, so the floor and the real endpoint are
served by the same processes with the same middleware.  A real install never loads it.
"""
