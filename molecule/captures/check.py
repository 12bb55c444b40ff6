"""Checks of a capture run with tshark, for verify.yml: prints one JSON object.

  check.py run RUN_DIR A B   per pcap: packets, packets matching the conversation A<->B, tagged
                             (VLAN 10) packets, ICMP echo requests (id, seq); and whether every
                             request in the window all hops share was seen at every hop; and
                             the interface names in merged.pcapng
  check.py same A.pcap B.pcap  the ICMP echo requests/replies (type, id, seq) each holds, within
                             the seq window both cover: equal?
  check.py tcpdumps          tcpdump processes left in the lab's host namespaces
"""
import json
import os
import subprocess
import sys


def tshark(path, *args):
    out = subprocess.run(["tshark", "-r", path, "-n"] + list(args), capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def run(run_dir, a, b):
    hops = {}
    for host in sorted(os.listdir(run_dir)):
        hdir = os.path.join(run_dir, host)
        if not os.path.isdir(hdir) or host in ("fdb", "routes"):
            continue
        for name in sorted(os.listdir(hdir)):
            if not name.endswith(".pcap"):
                continue
            path = os.path.join(hdir, name)
            hop = "%s:%s" % (host, name[:-5])
            echo = tshark(path, "-Y", "icmp.type == 8", "-T", "fields", "-e", "icmp.ident",
                          "-e", "icmp.seq")
            hops[hop] = {
                "packets": len(tshark(path, "-T", "fields", "-e", "frame.number")),
                "matching": len(tshark(path, "-Y", "ip.addr == %s && ip.addr == %s" % (a, b),
                                       "-T", "fields", "-e", "frame.number")),
                "tagged": len(tshark(path, "-Y", "vlan.id == 10", "-T", "fields",
                                     "-e", "frame.number")),
                "tcp": len(tshark(path, "-Y", "tcp.port == 5001", "-T", "fields",
                                  "-e", "frame.number")),
                "requests": sorted({tuple(int(x, 0) for x in line.split("\t")[:2])
                                    for line in echo}),
                "dropped": _dropped(path[:-5] + ".json"),
            }
    with_requests = [h for h in hops.values() if h["requests"]]
    lo = max(min(r[1] for r in h["requests"]) for h in with_requests) if with_requests else 0
    hi = min(max(r[1] for r in h["requests"]) for h in with_requests) if with_requests else -1
    window = {hop: sorted(r for r in h["requests"] if lo <= r[1] <= hi)
              for hop, h in hops.items() if h["requests"]}
    merged = sorted(set(tshark(os.path.join(run_dir, "merged.pcapng"), "-T", "fields",
                               "-e", "frame.interface_name")))
    # A request missing at a hop is only excused by packets tcpdump itself says it dropped
    # there (the kernel's ring overflowing on a loaded 2-core machine), never silently.
    union = set().union(*[set(map(tuple, v)) for v in window.values()]) if window else set()
    for hop, v in window.items():
        hops[hop]["missing"] = len(union - set(map(tuple, v)))
    for h in hops.values():
        h["requests"] = len(h["requests"])
    unexplained = [hop for hop, h in hops.items() if h.get("missing", 0) > h["dropped"]]
    return {"hops": hops, "window": [lo, hi], "shared_requests": len(union),
            "none_missing": not unexplained and hi >= lo, "unexplained": unexplained,
            "merged_interfaces": merged}


def _dropped(sidecar):
    """What tcpdump reported dropped (kernel + interface) on this hop, from its sidecar."""
    try:
        with open(sidecar) as f:
            side = json.load(f)
    except (OSError, ValueError):
        return 0
    return (side.get("kernel_dropped") or 0) + (side.get("interface_dropped") or 0)


def same(a, b):
    def echoes(path):
        rows = tshark(path, "-Y", "icmp.type == 8 || icmp.type == 0", "-T", "fields", "-e",
                      "icmp.type", "-e", "icmp.ident", "-e", "icmp.seq")
        return {tuple(int(x, 0) for x in r.split("\t")[:3]) for r in rows}
    ea, eb = echoes(a), echoes(b)
    if not ea or not eb:
        return {"equal": False, "a": len(ea), "b": len(eb)}
    lo = max(min(e[2] for e in ea), min(e[2] for e in eb))
    hi = min(max(e[2] for e in ea), max(e[2] for e in eb))
    wa = {e for e in ea if lo <= e[2] <= hi}
    wb = {e for e in eb if lo <= e[2] <= hi}
    return {"equal": wa == wb and len(wa) > 0, "a": len(ea), "b": len(eb), "window": len(wa),
            "only_a": sorted(wa - wb)[:10], "only_b": sorted(wb - wa)[:10]}


def tcpdumps():
    left = []
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             check=False).stdout
    for ns in (line.split()[0] for line in listing.splitlines() if line.startswith("cnlab-hv")):
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                              text=True, check=False).stdout.split()
        for pid in pids:
            try:
                with open("/proc/%s/comm" % pid) as f:
                    if f.read().strip() == "tcpdump":
                        left.append({"netns": ns, "pid": int(pid)})
            except OSError:
                pass
    return {"tcpdumps": left}


if __name__ == "__main__":
    if sys.argv[1] == "run":
        print(json.dumps(run(*sys.argv[2:5])))
    elif sys.argv[1] == "same":
        print(json.dumps(same(*sys.argv[2:4])))
    else:
        print(json.dumps(tcpdumps()))
