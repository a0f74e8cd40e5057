#!/usr/bin/python3
"""An ESP peer made with Scapy's IPsec layer, for tests/netns/ipsec_cordon_test.cpp.

It runs inside the peer's network namespace and stands for a host behind
an IPsec gateway: it seals inner IPv4 packets in tunnel-mode ESP (RFC 4303)
with a manually keyed SA and opens the ESP Cordon sends back, so Cordon's
ESP is checked against an implementation that shares no code with it.

  ping:   seal an ICMP echo request to --inner-remote, send it as raw ESP
          (IP protocol 50) to --remote, and open the echo reply Cordon
          sends back.
  answer: wait for one sealed echo request from --inner-remote, open it,
          and seal the echo reply back.

Prints "OK" on success; exits 1 with the reason otherwise.
"""
import argparse
import sys
import threading

from scapy.all import AsyncSniffer, conf, send
from scapy.layers.inet import ICMP, IP
from scapy.layers.ipsec import ESP, SecurityAssociation

TIMEOUT = 10.0


def security_association(algo, spi, key_hex, local, remote, seq=1):
    """The SA sealing from `local` to `remote` (or opening what it sends).

    `seq` is the first sequence number it seals with: each run of this
    script is a new SA object, and the receiver's anti-replay window
    (RFC 4303 section 3.4.3) refuses a number it has seen before.
    """
    key = bytes.fromhex(key_hex)
    header = IP(src=local, dst=remote)
    if algo == "AES-GCM":
        # RFC 4106 section 8.1: the key file is the key, then the 4-byte salt.
        return SecurityAssociation(ESP, spi=int(spi, 0), seq_num=seq, crypt_algo="AES-GCM", crypt_key=key,
                                   tunnel_header=header)
    if algo == "AES-CBC":
        # The encryption key (16 bytes for aes128), then the HMAC key.
        return SecurityAssociation(ESP, spi=int(spi, 0), seq_num=seq, crypt_algo="AES-CBC", crypt_key=key[:16],
                                   auth_algo="SHA2-256-128", auth_key=key[16:], tunnel_header=header)
    raise SystemExit("unknown --algo " + algo)


def wait_for_esp(sniffer, spi):
    """The first ESP packet with our inbound SPI the sniffer saw."""
    sniffer.join(TIMEOUT)
    if sniffer.running:
        sniffer.stop()
    for packet in sniffer.results or []:
        if ESP in packet and packet[ESP].spi == spi:
            return packet[IP]
    return None


def sniffer_for(args):
    """A started sniffer for ESP from the remote; returns once it captures."""
    ready = threading.Event()
    sniffer = AsyncSniffer(iface="ul0", filter="ip proto 50 and src host " + args.remote, count=1,
                           timeout=TIMEOUT, store=True, started_callback=ready.set)
    sniffer.start()
    if not ready.wait(TIMEOUT):
        fail("the sniffer did not start")
    return sniffer


def fail(why):
    print("FAIL " + why, flush=True)
    sys.exit(1)


def ping(args, out_sa, in_sa):
    request = IP(src=args.inner_local, dst=args.inner_remote) / ICMP(type=8, id=0x4321, seq=1) / b"cordon-scapy"
    sniffer = sniffer_for(args)
    send(out_sa.encrypt(request), iface="ul0", verbose=False)
    sealed = wait_for_esp(sniffer, int(args.in_spi, 0))
    if sealed is None:
        fail("no ESP reply from %s within %.0f s" % (args.remote, TIMEOUT))
    inner = in_sa.decrypt(sealed)
    if ICMP not in inner or inner[ICMP].type != 0 or inner[ICMP].id != 0x4321:
        fail("the opened packet is not our echo reply: " + inner.summary())
    if inner[IP].src != args.inner_remote or bytes(inner[ICMP].payload) != b"cordon-scapy":
        fail("the echo reply has the wrong source or payload: " + inner.summary())
    print("OK opened " + inner.summary(), flush=True)


def answer(args, out_sa, in_sa):
    sniffer = sniffer_for(args)
    print("listening", flush=True)
    sealed = wait_for_esp(sniffer, int(args.in_spi, 0))
    if sealed is None:
        fail("no ESP from %s within %.0f s" % (args.remote, TIMEOUT))
    inner = in_sa.decrypt(sealed)
    if ICMP not in inner or inner[ICMP].type != 8 or inner[IP].dst != args.inner_local:
        fail("the opened packet is not an echo request to us: " + inner.summary())
    reply = IP(src=args.inner_local, dst=inner[IP].src) / ICMP(type=0, id=inner[ICMP].id, seq=inner[ICMP].seq)
    reply = reply / inner[ICMP].payload
    send(out_sa.encrypt(reply), iface="ul0", verbose=False)
    print("OK opened " + inner.summary(), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["ping", "answer"])
    p.add_argument("--algo", required=True, choices=["AES-GCM", "AES-CBC"])
    p.add_argument("--seq", type=int, default=1, help="first sequence number sealed")
    for name in ("local", "remote", "inner-local", "inner-remote", "out-spi", "out-key", "in-spi", "in-key"):
        p.add_argument("--" + name, required=True)
    args = p.parse_args()
    conf.verb = 0
    out_sa = security_association(args.algo, args.out_spi, args.out_key, args.local, args.remote, args.seq)
    in_sa = security_association(args.algo, args.in_spi, args.in_key, args.remote, args.local)
    (ping if args.mode == "ping" else answer)(args, out_sa, in_sa)


if __name__ == "__main__":
    main()
