// `cordon status` for people: renders the control socket's status document
// (status_json.hpp) as a summary line and a peer table. A host with
// coordinators (a client with a registry, or a coordinator) also gets its
// role line, its local endpoints, a table of each peer's path and what the
// registry says about it, and, at a coordinator, its registered clients and
// routes. `--json` prints the document itself for scripts.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace cordon::daemon {

// `now_unix` is the reader's clock in Unix seconds, for "12 s ago". Missing
// or mistyped fields render as "?" rather than failing: the document comes
// from a daemon that may be newer or older than this command.
std::string format_status(const nlohmann::json& status, int64_t now_unix);

// A link's key arrays from its "rekey" object: "data 250/256 control
// 250/256" (entries left of the arrays in use), "off" without arrays.
std::string key_arrays_text(const nlohmann::json& rekey);

// 1536 -> "1.5 KiB"; below 1 KiB in whole bytes.
std::string human_bytes(uint64_t bytes);

// Seconds since `then` as "12 s ago", "5 min ago", "3 h ago", "2 d ago".
std::string human_age(int64_t then_unix, int64_t now_unix);

}  // namespace cordon::daemon
