// Link key files: one line, the 32-byte link key in standard base64 (44
// characters), mode 0600. Both ends of a link hold the same content.
//
// A key file that group or others can access is refused, and every
// temporary copy of the key (file text, decoded bytes) is wiped
// (docs/design.md, "What every capability meets").
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "core/crypto/secret.hpp"
#include "core/result.hpp"

namespace cordon::daemon {

// The key (kLinkKeySize bytes), or "what is wrong; what to do", naming the
// file.
using KeyFileResult = cordon::Result<crypto::SecretBytes, std::string>;

// Opens `path`, checks it is a regular file private to its owner, and
// decodes the key. The mode is checked on the opened descriptor, so the file
// cannot be swapped between the check and the read.
KeyFileResult load_key_file(const std::string& path);

// The in-memory half of load_key_file: decodes the file's content `text`
// (surrounding whitespace allowed, at most 4096 bytes). `path` only names the
// file in errors. Touches no file; the fuzz target feeds it directly.
KeyFileResult decode_key_file(std::span<const std::byte> text, const std::string& path);

// A fresh random link key from the operating system's CSPRNG (OpenSSL
// RAND_bytes). nullopt if the generator fails.
std::optional<crypto::SecretBytes> generate_link_key();

// The key file content for `key`: base64 and a newline. Returned as secret
// bytes so that the text is wiped as well.
crypto::SecretBytes encode_key_file(const crypto::SecretBytes& key);

}  // namespace cordon::daemon
