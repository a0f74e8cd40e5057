// This machine's identity, /etc/machine-id (machine-id(5)): 32 lower-case
// hex digits that systemd (or dbus) generates once per installation. The
// counter floor file records it, so that a state directory copied to
// another machine is recognised (docs/protocol.md, "Nonce uniqueness").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cordon::os {

constexpr const char* kMachineIdPath = "/etc/machine-id";

// The ID, or nullopt when the file is missing, unreadable, empty or not 32
// hex digits (a container without one, or "uninitialized" at early boot).
std::optional<std::string> read_machine_id(const std::string& path = kMachineIdPath);

// Whether `text` is a machine ID as machine-id(5) writes it.
bool is_machine_id(std::string_view text);

}  // namespace cordon::os
