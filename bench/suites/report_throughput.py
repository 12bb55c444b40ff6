"""The capture report's throughput: analysis + merge of a synthetic N-packet pcap (default
1,000,000), in a child process so that its peak RSS is its own. Prints packets/s and peak RSS.

  .venv/bin/python bench/suites/report_throughput.py [PACKETS]

Issue 6 extends this to 10,000,000 packets beside tshark and capinfos on the same file."""

import os
import struct
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Run directly: the tests' frame builder (tests/support) and the collection, for this process
# and the child that measures the report.
sys.path[:0] = [os.path.join(REPO, "tests", "support"), os.path.join(REPO, ".venv", "collections")]

import pcap_craft as craft  # noqa: E402  (the tests' frame builder)


def synthetic(path, packets):
    """A 1,000-flow mix (TCP data, echo request/reply, tagged UDP) written with struct."""
    frames = []
    for flow in range(1000):
        ip_b = "10.2.%d.%d" % (flow // 250, flow % 250 + 1)
        frames.append(bytes(craft.ether(craft.MAC_A, craft.MAC_B, craft.tcp(
            craft.IP_A, ip_b, 30000 + flow, 443, 0x18, seq=flow, payload=b"p" * 200))))
        frames.append(bytes(craft.ether(craft.MAC_A, craft.MAC_B, craft.echo(
            craft.IP_A, ip_b, flow))))
        frames.append(bytes(craft.ether(craft.MAC_B, craft.MAC_A, craft.echo(
            ip_b, craft.IP_A, flow, reply=True))))
        frames.append(bytes(craft.ether(craft.MAC_A, craft.MAC_B, craft.udp(
            craft.IP_A, ip_b), vlan=10)))
    hdr = struct.Struct("<IIII")
    with open(path, "wb", buffering=1 << 20) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(packets):
            frame = frames[i % len(frames)]
            f.write(hdr.pack(1000 + i // 100000, i % 100000 * 10, len(frame), len(frame)))
            f.write(frame)


def main(packets):
    with tempfile.TemporaryDirectory(prefix="cnt-bench-") as tmp:
        run = os.path.join(tmp, "run")
        os.makedirs(os.path.join(run, "hv1"))
        synthetic(os.path.join(run, "hv1", "eth0.pcap"), packets)
        code = ("import sys, time, resource; sys.path[:0] = %r\n"
                "from ansible_collections.cloudnet.vswitch.plugins.plugin_utils import "
                "capture_report, pcap_analysis\n"
                "t = time.time(); s, c = capture_report.load_run(%r)\n"
                "r = pcap_analysis.analyse(s, %r)\n"
                "print(r['packets'], r['conversation_count'], time.time() - t, "
                "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n") % (
                    sys.path, run, os.path.join(tmp, "merged.pcapng"))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
    n, convs, seconds, rss_kib = int(out[0]), int(out[1]), float(out[2]), int(out[3])
    print("%d packets, %d conversations: %.1f s (%.0f packets/s), peak RSS %.1f MiB"
          % (n, convs, seconds, n / seconds, rss_kib / 1024.0))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000000)
