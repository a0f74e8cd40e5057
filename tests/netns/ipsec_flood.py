#!/usr/bin/python3
"""Floods an IPsec gateway from inside a test namespace, for
tests/netns/ipsec_attack_test.cpp.

  esp:      COUNT ESP packets in UDP to port 4500 (RFC 3948) and COUNT raw
            ESP packets (IP protocol 50, RFC 4303), each with a random SPI
            that no SA has, so the gateway must drop them unopened.
  ike-init: COUNT IKE_SA_INIT requests (RFC 7296 section 1.2), each from a
            fresh socket (a random source port) with a random SPIi, that
            never continue to IKE_AUTH: half-open IKE SAs, until the
            gateway asks for cookies (section 2.6).

Packets are sent at --rate per second at most, so that what the gateway
counts is what it was sent rather than what a socket buffer kept.
Prints "sent N" with the number of packets the kernel took.
"""
import argparse
import os
import socket
import struct
import time

ESP_IN_UDP_PORT = 4500
IKE_PORT = 500

# The generator of NIST P-256 (x | y, RFC 5903 section 7): a valid public
# key, so the gateway completes its half of the key exchange.
P256_GENERATOR = bytes.fromhex(
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")


class Pacer:
    """Spaces calls to at most `rate` per second."""

    def __init__(self, rate):
        self.interval = 1.0 / rate
        self.next = time.monotonic()

    def wait(self):
        self.next += self.interval
        ahead = self.next - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


def random_spi():
    # SPIs 1 to 255 are reserved (RFC 4303 section 2.1); 0 marks IKE on 4500.
    while True:
        spi = struct.unpack("!I", os.urandom(4))[0]
        if spi >= 256:
            return spi


def esp_packet():
    return struct.pack("!II", random_spi(), 1) + os.urandom(64)


def flood_esp(args):
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ESP)
    pacer = Pacer(args.rate)
    sent = 0
    for _ in range(args.count):
        pacer.wait()
        sent += udp.sendto(esp_packet(), (args.to, ESP_IN_UDP_PORT)) > 0
        pacer.wait()
        sent += raw.sendto(esp_packet(), (args.to, 0)) > 0
    return sent


def payload(next_type, body):
    """A generic payload header (RFC 7296 section 3.2) before `body`."""
    return struct.pack("!BBH", next_type, 0, 4 + len(body)) + body


def transform(last, kind, ident, attributes=b""):
    """A transform substructure (section 3.3.2); 3 in front says another follows."""
    return struct.pack("!BBHBBH", 0 if last else 3, 0, 8 + len(attributes), kind, 0, ident) + attributes


def ike_sa_init():
    """aes256gcm16-prfsha256-ecp256, a P-256 public key and a nonce."""
    key_length_256 = struct.pack("!HH", 0x800E, 256)  # TV attribute Key Length (section 3.3.5)
    transforms = (transform(False, 1, 20, key_length_256)  # ENCR_AES_GCM_16
                  + transform(False, 2, 5)                 # PRF_HMAC_SHA2_256
                  + transform(True, 4, 19))                # 256-bit random ECP group
    proposal = struct.pack("!BBHBBBB", 0, 0, 8 + len(transforms), 1, 1, 0, 3) + transforms
    body = (payload(34, proposal)                                           # SA, next KE
            + payload(40, struct.pack("!HH", 19, 0) + P256_GENERATOR)       # KE, next Nonce
            + payload(0, os.urandom(32)))                                   # Nonce
    header = struct.pack("!8s8sBBBBII", os.urandom(8), bytes(8), 33, 0x20, 34, 0x08, 0, 28 + len(body))
    return header + body


def flood_ike_init(args):
    pacer = Pacer(args.rate)
    sent = 0
    for _ in range(args.count):
        pacer.wait()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            sent += s.sendto(ike_sa_init(), (args.to, IKE_PORT)) > 0
    return sent


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["esp", "ike-init"])
    p.add_argument("--to", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--rate", type=float, default=5000.0, help="packets per second at most")
    args = p.parse_args()
    sent = (flood_esp if args.mode == "esp" else flood_ike_init)(args)
    print("sent %d" % sent, flush=True)


if __name__ == "__main__":
    main()
