"""Frames and capture run directories crafted with dpkt, for the capture report's tests.

The scene: VM A 10.0.0.1 (52:54:00:00:00:01) on hv1's vnet0, VLAN 10 (untagged on the vnet,
tagged on the uplinks); VM B 10.0.0.2 (52:54:00:00:00:02) behind hv2's uplink eth0.
"""

import json
import os
import socket
import struct

import dpkt

MAC_A, MAC_B = "52:54:00:00:00:01", "52:54:00:00:00:02"
IP_A, IP_B, IP_GONE = "10.0.0.1", "10.0.0.2", "10.0.0.3"
BROADCAST = "ff:ff:ff:ff:ff:ff"


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def ip4(text):
    return socket.inet_pton(socket.AF_INET, text)


def ip6(text):
    return socket.inet_pton(socket.AF_INET6, text)


def ether(src, dst, payload, vlan=None, etype=None):
    etype = etype or {dpkt.ip.IP: 0x0800, dpkt.ip6.IP6: 0x86DD, dpkt.arp.ARP: 0x0806}[
        type(payload)]
    head = mac(dst) + mac(src)
    if vlan is not None:
        head += struct.pack("!HH", 0x8100, vlan)
    return head + struct.pack("!H", etype) + bytes(payload)


def ipv4(src, dst, proto, payload):
    return dpkt.ip.IP(src=ip4(src), dst=ip4(dst), p=proto, ttl=64, id=7, data=payload)


def echo(src, dst, seq, reply=False, ident=0x42):
    echo_data = dpkt.icmp.ICMP.Echo(id=ident, seq=seq, data=b"ping")
    icmp = dpkt.icmp.ICMP(type=0 if reply else 8, data=echo_data)
    return ipv4(src, dst, dpkt.ip.IP_PROTO_ICMP, icmp)


def tcp(src, dst, sport, dport, flags, seq=1000, ack=0, payload=b"", bad=False):
    seg = dpkt.tcp.TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, data=payload)
    if bad:
        seg.sum = 0x1234
    return ipv4(src, dst, dpkt.ip.IP_PROTO_TCP, seg)


def udp(src, dst, payload=b"data", bad=False):
    seg = dpkt.udp.UDP(sport=5000, dport=9999, data=payload)
    seg.ulen = 8 + len(payload)
    if bad:
        seg.sum = 0x1234
    return ipv4(src, dst, dpkt.ip.IP_PROTO_UDP, seg)


def arp(op, sha, spa, tpa, tha="00:00:00:00:00:00"):
    return dpkt.arp.ARP(op=op, sha=mac(sha), spa=ip4(spa), tha=mac(tha), tpa=ip4(tpa))


def nd(src, dst, target, advert=False):
    body = (struct.pack("!I", 0x60000000 if advert else 0) + ip6(target))
    icmp = dpkt.icmp6.ICMP6(type=136 if advert else 135, code=0, data=body)
    return dpkt.ip6.IP6(src=ip6(src), dst=ip6(dst), nxt=58, hlim=255, data=icmp, plen=len(
        bytes(icmp)))


def write_pcap(path, records, snaplen=65535):
    """records: (ts, frame) or (ts, frame, caplen) for a frame cut to caplen bytes."""
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, snaplen=snaplen)
        for rec in records:
            ts, frame = rec[0], bytes(rec[1])
            if len(rec) > 2:
                f.write(w._pack_hdr(int(ts), int(round(ts % 1 * 1e6)), rec[2], len(frame)))
                f.write(frame[:rec[2]])
            else:
                w.writepkt_time(frame, ts)


def add_capture(run, host, interface, records, **sidecar):
    d = os.path.join(run, host)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, interface + ".pcap")
    write_pcap(path, sorted(records, key=lambda r: r[0]))
    side = {"interface": interface, "packets": len(records), "bytes": 0, "first": None,
            "last": None, "filter": "host 10.0.0.1", "kernel_dropped": 0, "interface_dropped": 0,
            "snaplen": 262144, "clock_offset": None, "started_at": 100.0}
    side.update(sidecar)
    with open(os.path.join(d, interface + ".json"), "w") as f:
        json.dump(side, f)
    return path


def scene(run):
    """The two-host run: answered and unanswered echo, SYN, ARP, ND, tagged frames, bad and
    truncated checksums, a reply before its request, drops on hv2:eth0."""
    vnet, up1, up2 = [], [], []

    def hop3(t, src, dst, pkt, rev=False):
        """A frame from A's side crossing vnet0 -> hv1:eth0 -> hv2:eth0 (reverse with rev)."""
        hops = [(vnet, None), (up1, 10), (up2, 10)]
        for i, (where, vlan) in enumerate(reversed(hops) if rev else hops):
            where.append((t + i * 0.001, ether(src, dst, pkt, vlan)))

    hop3(100.0, MAC_A, MAC_B, echo(IP_A, IP_B, 1))
    hop3(100.01, MAC_B, MAC_A, echo(IP_B, IP_A, 1, reply=True), rev=True)
    hop3(101.0, MAC_A, MAC_B, echo(IP_A, IP_GONE, 2))                # blackholed: no reply
    vnet.append((101.5, ether(MAC_A, MAC_B, tcp(IP_A, IP_B, 40000, 22, dpkt.tcp.TH_SYN))))
    up1.append((101.501, ether(MAC_A, MAC_B, tcp(IP_A, IP_B, 40000, 22, dpkt.tcp.TH_SYN), 10)))
    hop3(102.0, MAC_A, MAC_B, tcp(IP_A, IP_B, 40001, 80, dpkt.tcp.TH_SYN, seq=5))
    hop3(102.01, MAC_B, MAC_A, tcp(IP_B, IP_A, 80, 40001, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK,
                                   seq=9, ack=6), rev=True)
    hop3(103.0, MAC_A, BROADCAST, arp(1, MAC_A, IP_A, "10.0.0.9"))   # nobody has .9
    hop3(103.1, MAC_A, BROADCAST, arp(1, MAC_A, IP_A, IP_B))
    hop3(103.11, MAC_B, MAC_A, arp(2, MAC_B, IP_B, IP_A, MAC_A), rev=True)
    hop3(104.0, MAC_A, "33:33:ff:00:00:02", nd("fe80::1", "ff02::1:ff00:2", "2001:db8::2"))
    hop3(104.01, MAC_B, MAC_A, nd("fe80::2", "fe80::1", "2001:db8::2", advert=True), rev=True)
    hop3(104.5, MAC_A, "33:33:ff:00:00:09", nd("fe80::1", "ff02::1:ff00:9", "2001:db8::9"))
    # the VM's TX offload: bad on its vnet, completed before the uplink
    vnet.append((105.0, ether(MAC_A, MAC_B, udp(IP_A, IP_B, bad=True))))
    up1.append((105.001, ether(MAC_A, MAC_B, udp(IP_A, IP_B), 10)))
    # a remote sender's bad checksum, seen only on hv1's uplink
    bad = tcp(IP_B, IP_A, 80, 40001, dpkt.tcp.TH_ACK, payload=b"x" * 40, bad=True)
    up1.append((105.5, ether(MAC_B, MAC_A, bad, 10)))
    # truncated by snaplen with a wrong checksum field: not checked
    bad = tcp(IP_B, IP_A, 80, 40001, dpkt.tcp.TH_ACK, payload=b"y" * 400, bad=True)
    up1.append((105.6, ether(MAC_B, MAC_A, bad, 10), 80))
    # hv2's clock is behind: its reply is stamped before the request leaves the VM
    up2.append((106.2, ether(MAC_B, MAC_A, echo(IP_B, IP_A, 3, reply=True), 10)))
    vnet.append((106.5, ether(MAC_A, MAC_B, echo(IP_A, IP_B, 3))))
    for where, vlan in ((vnet, None), (up1, 10), (up2, 10)):        # the capture goes on
        where.append((120.0, ether(MAC_A, MAC_B, udp(IP_A, IP_B, b"end"), vlan)))
    add_capture(run, "hv1", "vnet0", vnet)
    add_capture(run, "hv1", "eth0", up1, clock_offset=0.0002)
    add_capture(run, "hv2", "eth0", up2, kernel_dropped=3, clock_offset=-0.5)
    return run


def context(run, address=IP_A, hostname="hv1"):
    """located.json, vswitches.json, fdb/ and routes/ beside the captures."""
    def dump(rel, data):
        path = os.path.join(run, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(data, f)

    dump("located.json", {"address": address, "hosts": [
        {"host": hostname, "vswitch": "vswitch0", "port": "vnet0", "role": "vnet",
         "mac": MAC_A, "vlan": 10, "local": True,
         "evidence": ["libvirt attached-mac %s on interface vnet0" % MAC_A]},
        {"host": "hv2", "vswitch": "vswitch0", "port": "eth0", "role": "uplink",
         "mac": MAC_A, "vlan": 10, "local": False,
         "evidence": ["FDB of vswitch0: %s on port 1 (eth0), VLAN 10; learned via uplink eth0"
                      % MAC_A]}]})
    dump(os.path.join(hostname, "vswitches.json"), [{
        "name": "vswitch0", "datapath_type": "system", "ports": [
            {"name": "eth0", "role": "uplink", "ofport": 1, "mac": "02:00:00:00:01:00"},
            {"name": "vswitch0", "role": "internal", "ofport": 65534,
             "mac": "02:00:00:00:01:00", "addresses": ["10.0.0.254/24"]},
            {"name": "vnet0", "role": "vnet", "ofport": 2, "mac": "fe:54:00:00:00:01",
             "tag": 10, "external_ids": {"attached-mac": MAC_A}}]}])
    dump(os.path.join("fdb", hostname + ".json"), [{"name": "vswitch0", "entries": [
        {"port": "2", "port_name": "vnet0", "role": "vnet", "vlan": 10, "mac": MAC_A,
         "age": 1, "static": False}]}])
    dump(os.path.join("routes", hostname + ".json"), [
        {"local_address": "10.0.0.254", "interface": "vswitch0", "peer": "10.0.0.2",
         "egress": "vswitch0", "verdict": "symmetric", "explanation": "fine"},
        {"local_address": "10.0.1.254", "interface": "vswitch1", "peer": "10.0.0.2",
         "egress": "vswitch0", "verdict": "asymmetric-dropped",
         "explanation": "A request from 10.0.0.2 arrives on vswitch1, but the route back "
                        "leaves by vswitch0; rp_filter drops it.",
         "peer_neighbours": [{"dev": "vswitch1", "mac": "52:54:00:00:00:02", "state": "STALE"}]},
        {"local_address": "10.0.1.254", "interface": "vswitch1", "peer": "10.0.0.77",
         "egress": "vswitch0", "verdict": "asymmetric-answered", "peer_neighbours": [],
         "explanation": "A request from 10.0.0.77 would arrive on vswitch1, the reply leave by "
                        "vswitch0."}])


# ---------------------------------------------------------------- both ends watched
MAC_C, MAC_D, MAC_F = "52:54:00:00:00:04", "52:54:00:00:00:05", "52:54:00:00:00:06"
IP_C, IP_D, IP_E, IP_F = "10.0.0.4", "10.0.0.5", "10.0.0.7", "10.0.0.6"
MAC_E = "52:54:00:00:00:07"
HV_MAC = {"hv1": "02:00:00:00:01:00", "hv2": "02:00:00:00:02:00"}


def both_ends(run, skip=(), faults=True):
    """A's home hv1:vnet0 and its peers' homes captured, with the uplinks between:
    B on hv2:vnet1 (its echo seq 1 answered at vnet0; seq 2's reply seen back to hv1:eth0,
    never at vnet0; B's own echo to A answered at hv2:vnet1), C on hv2:vnet2 (delivered, not
    answered), D on hv2:vnet3 (seen at hv2:eth0, never delivered), F on hv1:vnet1 (same host,
    answered), E behind hv2's uplink, not captured (its echo to A answered: unwatched), and
    10.0.0.3 nobody's (unanswered). `skip`: hops not captured; without `faults`, only what was
    answered. Writes located.json and both hosts' vswitches.json."""
    caps = {h: [] for h in ("hv1:vnet0", "hv1:vnet1", "hv1:eth0", "hv2:eth0", "hv2:vnet1",
                            "hv2:vnet2", "hv2:vnet3")}
    tagged = {"hv1:eth0", "hv2:eth0"}

    def path(t, src, dst, pkt, hops):
        for i, hop in enumerate(hops):
            caps[hop].append((t + i * 0.001, ether(src, dst, pkt, 10 if hop in tagged else None)))

    to_b = ["hv1:vnet0", "hv1:eth0", "hv2:eth0", "hv2:vnet1"]
    path(100.0, MAC_A, MAC_B, echo(IP_A, IP_B, 1), to_b)
    path(100.01, MAC_B, MAC_A, echo(IP_B, IP_A, 1, reply=True), to_b[::-1])
    if faults:
        path(101.0, MAC_A, MAC_B, echo(IP_A, IP_B, 2), to_b)             # its reply dies
        path(101.01, MAC_B, MAC_A, echo(IP_B, IP_A, 2, reply=True), to_b[::-1][:3])
    path(102.0, MAC_B, MAC_A, echo(IP_B, IP_A, 1, ident=0x43), to_b[::-1])
    path(102.01, MAC_A, MAC_B, echo(IP_A, IP_B, 1, reply=True, ident=0x43), to_b)
    if faults:
        path(103.0, MAC_A, MAC_C, echo(IP_A, IP_C, 1), to_b[:3] + ["hv2:vnet2"])   # C silent
        path(104.0, MAC_A, MAC_D, echo(IP_A, IP_D, 1), to_b[:3])        # never reaches D
    path(105.0, MAC_A, MAC_F, echo(IP_A, IP_F, 1), ["hv1:vnet0", "hv1:vnet1"])
    path(105.01, MAC_F, MAC_A, echo(IP_F, IP_A, 1, reply=True), ["hv1:vnet1", "hv1:vnet0"])
    path(106.0, MAC_E, MAC_A, echo(IP_E, IP_A, 1), to_b[::-1][1:])      # E's port: not seen
    path(106.01, MAC_A, MAC_E, echo(IP_A, IP_E, 1, reply=True), to_b[:3])
    if faults:
        path(107.0, MAC_A, "52:54:00:00:00:03", echo(IP_A, IP_GONE, 1), to_b[:3])
    for hop in caps:                                                   # the capture goes on
        path(120.0, MAC_A, MAC_B, udp(IP_A, IP_B, b"end"), [hop])
    for hop, records in caps.items():
        if hop not in skip:
            host, iface = hop.split(":")
            add_capture(run, host, iface, records)

    def home(host, port, mac, ip=None):
        out = {"host": host, "vswitch": "vswitch0", "port": port, "role": "vnet", "mac": mac,
               "vlan": 10, "local": True}
        return dict(out, ip=ip) if ip else out

    located = {"address": IP_A, "peers": [IP_B, IP_C, IP_D, IP_F],
               "hosts": [home("hv1", "vnet0", MAC_A)],
               "peer_hosts": [home("hv2", "vnet1", MAC_B, IP_B), home("hv2", "vnet2", MAC_C, IP_C),
                              home("hv2", "vnet3", MAC_D, IP_D), home("hv1", "vnet1", MAC_F, IP_F)],
               "capture": {}, "notes": [], "lost": [], "wide": False, "duration": 20}
    with open(os.path.join(run, "located.json"), "w") as f:
        json.dump(located, f)
    vms = {"hv1": [("vnet0", MAC_A), ("vnet1", MAC_F)],
           "hv2": [("vnet1", MAC_B), ("vnet2", MAC_C), ("vnet3", MAC_D)]}
    for host, ports in vms.items():
        os.makedirs(os.path.join(run, host), exist_ok=True)
        with open(os.path.join(run, host, "vswitches.json"), "w") as f:
            json.dump([{"name": "vswitch0", "ports": [
                {"name": "eth0", "role": "uplink", "mac": HV_MAC[host]},
                {"name": "vswitch0", "role": "internal", "mac": HV_MAC[host]}] + [
                {"name": port, "role": "vnet", "tag": 10, "external_ids": {"attached-mac": mac}}
                for port, mac in ports]}], f)
    return run
