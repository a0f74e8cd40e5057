// Files that must survive crashes and must not leak: key files, the counter
// floor, generated configs. Key files are mode 0600, written atomically
// (temp file, fsync, rename, fsync dir), and a key file that group or
// others can access, or that another user owns, is refused
// (docs/configuration.md, "Key files").
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "os/linux/result.hpp"

namespace cordon::os {

// Replaces `path` with `bytes` so that a reader, or the file system after a
// crash, sees either the old content or the new one, never a mix. The file
// gets exactly `mode` (the umask does not apply) from before its first byte
// is written.
Status write_file_atomic(const std::string& path, std::span<const std::byte> bytes, mode_t mode);
Status write_file_atomic(const std::string& path, std::string_view text, mode_t mode);

// Reads a whole file. Files longer than max_bytes are refused (EFBIG) so
// that a wrong path such as /dev/zero cannot exhaust memory. Callers that
// read a secret wipe the string when done (crypto::wipe).
constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;
Result<std::string> read_file(const std::string& path, size_t max_bytes = kMaxFileBytes);

// Refuses (EPERM) a file that is not owned by the effective user: its owner
// can read it or put other bytes in it whatever its mode says. The message
// names the path, the owner and the user this process runs as, and says to
// `chown` it.
Status check_owner(const std::string& path, const struct stat& st);

// Refuses (EACCES) a file whose mode grants any permission to group or
// others, and (EPERM, check_owner) one another user owns; the message names
// the path and the mode or owner and says how to fix it.
Status check_private(const std::string& path);

// check_private + read_file on the same open file, so that the file checked
// is the file read (no window for a rename in between).
Result<std::string> read_private_file(const std::string& path, size_t max_bytes = kMaxFileBytes);

// Creates the directory and any missing parents with `mode`; an existing
// directory is left as it is. Fails with ENOTDIR when a component is a file.
Status ensure_dir(const std::string& path, mode_t mode);

}  // namespace cordon::os
