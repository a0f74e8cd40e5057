// The service manager and its journal, through libsystemd (docs/operations.md,
// "systemd" and "The journal"):
//  - sd_notify(3): READY=1, RELOADING=1, STOPPING=1, STATUS=, WATCHDOG=1 to
//    $NOTIFY_SOCKET, which systemd sets for Type=notify units. Outside
//    systemd the variable is unset and notify() does nothing.
//  - sd_watchdog_enabled(3): the WatchdogSec= of the unit, as systemd passes
//    it in $WATCHDOG_USEC and $WATCHDOG_PID.
//  - sd_journal_sendv(3): one record with structured fields, in the
//    journal's native protocol.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "os/linux/result.hpp"

namespace cordon::os {

// Sends `state` ("READY=1\nSTATUS=...") to the service manager. True when it
// was sent; false outside systemd or when the socket refused it.
bool notify(std::string_view state);

// How often the service manager wants WATCHDOG=1, in nanoseconds: the
// unit's WatchdogSec=, or 0 when the watchdog is off or not meant for this
// process.
int64_t watchdog_interval_ns();

// True when stderr is the journal stream systemd connected for this
// process: $JOURNAL_STREAM names stderr's device and inode (systemd.exec(5),
// "Environment variables in spawned processes"). A terminal, a file or a
// pipe to another program leaves it false.
bool stderr_is_journal();

// Sends one journal record. Each entry is "FIELD=value"; field names are
// upper case letters, digits and underscores (systemd.journal-fields(7)).
// Values may hold newlines (sd_journal_sendv sends them in binary form).
Status journal_send(const std::vector<std::string>& fields);

}  // namespace cordon::os
