# Send 64 KiB every 0.25 s to port 5001 of argv[1] for 120 s (retrying the connect briefly).
import socket
import sys
import time

for _ in range(50):
    try:
        conn = socket.create_connection((sys.argv[1], 5001), timeout=5)
        break
    except OSError:
        time.sleep(0.2)
end = time.monotonic() + 120
while time.monotonic() < end:
    conn.sendall(b"x" * 65536)
    time.sleep(0.25)
conn.close()
