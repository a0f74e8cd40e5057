#include "os/linux/tun.hpp"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "core/offload/virtio_net.hpp"

namespace cordon::os {

namespace {

// One place for the device flags (linux/Documentation/networking/tuntap.rst):
//  - IFF_TUN: layer-3 packets; the TAP mode of the virtual adapter comes later.
//  - IFF_NO_PI: no 4-byte packet-information prefix; the IP version nibble
//    already tells v4 from v6.
//  - IFF_MULTI_QUEUE: one fd per worker (docs/design.md, "The data path").
//  - IFF_VNET_HDR (offloads on): every read and write carries a struct
//    virtio_net_hdr (core/offload/virtio_net.hpp); TUNSETOFFLOAD then says
//    which super-packets and partial checksums the kernel may hand us.
constexpr short kTunFlags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;

// USO (UDP segmentation offload on the TUN) came with Linux 6.2; Debian 12's
// kernel headers predate it (include/uapi/linux/if_tun.h).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif
constexpr unsigned kTso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
constexpr unsigned kUso = TUN_F_USO4 | TUN_F_USO6;

constexpr const char* kCloneDevice = "/dev/net/tun";

SysError open_error(int err) {
  if (err == ENOENT || err == ENODEV) {
    return sys_error("no /dev/net/tun: load the tun module (modprobe tun)", err);
  }
  return sys_error("open /dev/net/tun", err);
}

SysError attach_error(const std::string& name, int err, bool first_queue) {
  if (err == EPERM || err == EACCES) {
    return sys_error("creating TUN device " + name + " needs root (CAP_NET_ADMIN)", err);
  }
  if (err == EBUSY && first_queue) {
    // IFF_TUN_EXCL: the device exists, so some other process holds it.
    return sys_error("TUN device " + name + " already exists: another cordon daemon or another program "
                         "is using it; stop that one, or choose another interface name",
                     err);
  }
  if (err == EINVAL || err == EBUSY) {
    // tun_set_iff() refuses an existing device whose type or flags differ
    // (for example a single-queue TUN or a TAP left behind by another tool).
    return sys_error("attach to TUN device " + name + ": a device of that name exists and is "
                         "not a multi-queue TUN device; pick another interface name, or remove "
                         "the stale device with `ip link delete " + name + "`",
                     err);
  }
  return sys_error("TUNSETIFF " + name, err);
}

// Opens one queue. Every TUNSETIFF with the same name and IFF_MULTI_QUEUE
// attaches one more queue to the same device; the first one creates it. The
// kernel writes the final name back into ifr (relevant when the name holds
// a "%d" template).
// The first queue is opened with IFF_TUN_EXCL, so an existing device is
// refused rather than joined: a multi-queue device would otherwise let a
// second daemon silently take half of another one's packets.
Result<Fd> open_queue(const std::string& name, bool first_queue, bool vnet, std::string* actual_name) {
  // O_NONBLOCK here rather than through fcntl later: the worker multiplexes
  // the queue with its UDP socket and must never block in read(2).
  Fd fd(::open(kCloneDevice, O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return open_error(errno);

  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(kTunFlags | (first_queue ? IFF_TUN_EXCL : 0) | (vnet ? IFF_VNET_HDR : 0));
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) return attach_error(name, errno, first_queue);
  *actual_name = std::string(ifr.ifr_name, ::strnlen(ifr.ifr_name, IFNAMSIZ));
  if (vnet) {
    // The 10-byte header without num_buffers, little endian on every host.
    int size = static_cast<int>(offload::kVirtioNetHeaderSize);
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &size) < 0) return sys_error("TUNSETVNETHDRSZ " + name);
    int little = 1;
    if (::ioctl(fd.get(), TUNSETVNETLE, &little) < 0 && std::endian::native != std::endian::little) {
      return sys_error("TUNSETVNETLE " + name);
    }
  }
  return fd;
}

// Asks for checksum and TSO offloads, and USO where the kernel knows it
// (an older kernel refuses the unknown bits with EINVAL). The features
// belong to the device, so one queue's ioctl sets them for all.
TunFeatures set_offloads(int fd) {
  if (::ioctl(fd, TUNSETOFFLOAD, kTso | kUso) == 0) return TunFeatures{.checksum = true, .tso = true, .uso = true};
  if (::ioctl(fd, TUNSETOFFLOAD, kTso) == 0) return TunFeatures{.checksum = true, .tso = true, .uso = false};
  if (::ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0) return TunFeatures{.checksum = true};
  return TunFeatures{};
}

// An empty virtio-net header: a whole packet with its checksums complete.
constexpr std::array<std::byte, offload::kVirtioNetHeaderSize> kPlainHeader{};

Result<size_t> read_vectors(int fd, std::span<iovec> iov, const std::string& device) {
  for (;;) {
    ssize_t n = ::readv(fd, iov.data(), static_cast<int>(iov.size()));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return sys_error_of(errno, "read from TUN device ", device);
  }
}

Status write_vectors(int fd, std::span<const iovec> iov, const std::string& device) {
  for (;;) {
    // writev(2) on a TUN fd injects the whole packet or fails (tun_get_user).
    if (::writev(fd, iov.data(), static_cast<int>(iov.size())) >= 0) return Ok{};
    if (errno == EINTR) continue;
    return sys_error_of(errno, "write to TUN device ", device);
  }
}

iovec vec(std::span<const std::byte> bytes) {
  return iovec{.iov_base = const_cast<std::byte*>(bytes.data()), .iov_len = bytes.size()};
}

}  // namespace

Result<TunDevice> TunDevice::open(const std::string& name, unsigned queues, bool offloads) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return sys_error("TUN device name \"" + name + "\" must be 1 to " +
                         std::to_string(IFNAMSIZ - 1) + " characters",
                     EINVAL);
  }
  if (queues == 0) return sys_error("TUN device " + name + " needs at least one queue", EINVAL);

  TunDevice dev;
  dev.name_ = name;
  for (unsigned q = 0; q < queues; ++q) {
    auto fd = open_queue(dev.name_, q == 0, offloads, &dev.name_);
    // Returning drops the queues opened so far; a device that this call
    // created disappears with its last queue because it is not persistent.
    if (!fd) return fd.error();
    if (offloads && q == 0) dev.features_ = set_offloads(fd.value().get());
    dev.queues_.push_back(std::make_unique<TunDeviceQueue>(std::move(fd.value()), dev.name_, dev.features_));
  }
  // if_nametoindex(3) asks the kernel in the caller's network namespace,
  // which is the namespace the device was just created in.
  unsigned index = ::if_nametoindex(dev.name_.c_str());
  if (index == 0) return sys_error("if_nametoindex " + dev.name_);
  dev.ifindex_ = static_cast<int>(index);
  return dev;
}

Result<size_t> TunDeviceQueue::read(std::span<const std::span<std::byte>> buffers, std::span<size_t> sizes,
                                    size_t offset) {
  const size_t n = std::min(buffers.size(), sizes.size());
  size_t count = 0;
  while (count < n) {
    if (buffers[count].size() <= offset) break;  // no room: nothing to read into
    auto r = read_one(buffers[count].subspan(offset));
    if (!r) {
      if (count == 0) return r.error();
      break;  // the packets read so far go on; the next call reports it
    }
    if (r.value() == 0) break;
    sizes[count++] = r.value();
  }
  return count;
}

Result<size_t> TunDeviceQueue::read_one(std::span<std::byte> buf) const {
  if (features_) {
    // The header is read and dropped: this plain path is for packets the
    // kernel finished. A super-packet is cut to the room, and the caller
    // drops what fills its room (tun_queue.hpp).
    std::array<std::byte, offload::kVirtioNetHeaderSize> header;
    std::array<iovec, 2> iov{vec(header), vec(buf)};
    auto n = read_vectors(fd_.get(), iov, device_);
    if (!n) return n.error();
    if (n.value() < header.size()) return size_t{0};
    const auto parsed = offload::decode_virtio_net(header);
    if (!parsed || parsed->gso_type != offload::GsoType::kNone) return buf.size();
    return std::min(n.value() - header.size(), buf.size());
  }
  for (;;) {
    // One read(2) returns exactly one packet. With IFF_NO_PI the kernel cuts
    // a longer packet to the buffer without saying so (tun_put_user), so
    // callers pass more room than the MTU (tun_queue.hpp). The clamp guards
    // against a kernel that reports the untruncated length instead.
    ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n >= 0) return std::min(static_cast<size_t>(n), buf.size());
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return sys_error_of(errno, "read from TUN device ", device_);
  }
}

Status TunDeviceQueue::write(std::span<const std::byte> packet) {
  if (features_) {
    const std::array<iovec, 2> iov{vec(kPlainHeader), vec(packet)};
    return write_vectors(fd_.get(), iov, device_);
  }
  for (;;) {
    // write(2) on a TUN fd injects the whole packet or fails; there are no
    // short writes. EAGAIN is not expected (the kernel does not queue on this
    // side) and is reported like any error: the caller drops the packet.
    ssize_t n = ::write(fd_.get(), packet.data(), packet.size());
    if (n >= 0) return Ok{};
    if (errno == EINTR) continue;
    return sys_error_of(errno, "write to TUN device ", device_);
  }
}

Result<size_t> TunDeviceQueue::read_offloaded(std::span<std::byte> header, std::span<std::byte> packet) {
  std::array<iovec, 2> iov{vec(header.first(offload::kVirtioNetHeaderSize)), vec(packet)};
  auto n = read_vectors(fd_.get(), iov, device_);
  // A read shorter than the header cannot happen on a device with
  // IFF_VNET_HDR; it is taken as an empty queue.
  if (!n) return n.error();
  if (n.value() < offload::kVirtioNetHeaderSize) return size_t{0};
  return std::min(n.value() - offload::kVirtioNetHeaderSize, packet.size());
}

Status TunDeviceQueue::write_offloaded(std::span<const std::span<const std::byte>> parts) {
  // A coalesced packet is its headers and at most 64 payloads
  // (core/offload/gro.hpp); room for more costs nothing.
  std::array<iovec, 128> iov;
  if (parts.size() > iov.size()) return sys_error_of(EINVAL, "write to TUN device ", device_);
  for (size_t i = 0; i < parts.size(); ++i) iov[i] = vec(parts[i]);
  return write_vectors(fd_.get(), std::span(iov).first(parts.size()), device_);
}

}  // namespace cordon::os
