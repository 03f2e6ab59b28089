#!/usr/bin/env python3
"""pwrite + fdatasync latency, appending (the file grows) against overwriting a pre-written
file, interleaved. Usage: fdatasync_append_vs_overwrite.py DIR ROUNDS (docs/PERFORMANCE.md,
"Preallocated segments")."""
import os, sys, time, statistics
def run(path, mode, n=400, rec=200):
    fd = os.open(path, os.O_RDWR|os.O_CREAT|os.O_TRUNC, 0o644)
    if mode == 'overwrite':
        os.write(fd, b'\0'*(n*rec+4096)); os.fsync(fd)
    buf = b'x'*rec
    lat = []
    off = 0
    for i in range(n):
        t = time.perf_counter_ns()
        os.pwrite(fd, buf, off); os.fdatasync(fd)
        lat.append(time.perf_counter_ns()-t)
        off += rec
    os.close(fd); os.unlink(path)
    lat.sort()
    return lat[len(lat)//2]/1000, lat[int(len(lat)*.9)]/1000
d = sys.argv[1]
print('load', os.getloadavg())
for r in range(int(sys.argv[2])):
    for mode in ('append','overwrite'):
        p50,p90 = run(os.path.join(d,'f.bin'), mode)
        print(f'round {r} {mode:9s} p50 {p50:7.0f} us  p90 {p90:7.0f} us')
print('load', os.getloadavg())
