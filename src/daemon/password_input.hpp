// Where a host's password comes from when a key set is installed, unlocked
// or given a new password (docs/administration.md, "On the host"):
//
//   1. a password file (`--password-file FILE`, or host.password_file):
//      private to its owner like a key file, one line; one trailing newline
//      ("\n" or "\r\n") is not part of the password;
//   2. a systemd credential: $CREDENTIALS_DIRECTORY/cordon-password
//      (systemd.exec(5), "Credentials"; LoadCredential=cordon-password:FILE
//      or LoadCredentialEncrypted=), same rules as a password file;
//   3. the terminal: /dev/tty with echo off, the prompt on stderr.
//
// Every copy of the password is held in crypto::SecretBytes and wiped. The
// length rule (9-32 bytes of UTF-8, core/keys/password.hpp) is checked by
// read_password, so a wrong-length password is refused before any key
// derivation runs.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/crypto/secret.hpp"
#include "core/result.hpp"

namespace cordon::daemon {

// The systemd credential name: $CREDENTIALS_DIRECTORY/cordon-password.
constexpr const char* kPasswordCredential = "cordon-password";

// The password, or what is wrong and what to do.
using PasswordResult = cordon::Result<crypto::SecretBytes, std::string>;

// Reads a password file. Refuses a file that is not regular, that group or
// others can access, or that is longer than a password could be; strips one
// trailing newline. The length rule is NOT checked here (see read_password).
PasswordResult read_password_file(const std::string& path);

// The in-memory half of read_password_file: strips one trailing "\n" or
// "\r\n" from `content`. `path` only names the file in errors.
PasswordResult decode_password_file(std::span<const std::byte> content, const std::string& path);

// $CREDENTIALS_DIRECTORY/cordon-password when the variable is set and the
// file exists; nullopt otherwise, and also when the file holds only "-":
// the unit cordon@.service sets that (SetCredential=) for a host without a
// password file, because systemd 252 refuses to start a unit whose
// LoadCredential= file is missing.
std::optional<std::string> credential_password_path();

// Reads one line from the controlling terminal (/dev/tty) with echo off,
// after writing `prompt` to stderr. Without a terminal the error says to use
// --password-file or a systemd credential.
PasswordResult read_password_terminal(std::string_view prompt);

struct PasswordRequest {
  std::optional<std::string> file;  // --password-file or host.password_file
  bool use_credential = true;       // try $CREDENTIALS_DIRECTORY when no file
  std::string prompt = "Password: ";
  // Terminal only: ask twice and require the same answer (a new password).
  bool confirm = false;
  // Names the password in errors: "password", "new password".
  std::string what = "password";
};

// The first source that applies (file, credential, terminal), then the
// length rule. The error names the source.
PasswordResult read_password(const PasswordRequest& request);

}  // namespace cordon::daemon
