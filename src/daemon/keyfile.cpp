#include "daemon/keyfile.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/node_config.hpp"
#include "os/linux/fd.hpp"
#include "os/linux/files.hpp"

namespace cordon::daemon {
namespace {

// A key file is one line of 44 characters; anything much longer is not a key
// file, and reading it whole would only copy more unknown data around.
constexpr size_t kMaxKeyFileSize = 4096;

KeyFileResult fail(std::string message) { return cordon::fail(std::move(message)); }

bool is_space(std::byte b) {
  const auto c = static_cast<char>(b);
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string hint_generate(const std::string& path) {
  return fmt::format("make one with `cordon genkey --out {}` and give the peer the same file", path);
}

}  // namespace

KeyFileResult load_key_file(const std::string& path) {
  // O_NONBLOCK: a FIFO at the key path must not hang the daemon in open();
  // it is refused below as not a regular file.
  os::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT) return fail(fmt::format("key file {} does not exist; {}", path, hint_generate(path)));
    if (err == EACCES) {
      return fail(fmt::format("cannot read key file {}: {}; run as its owner (cordon up runs as root)", path,
                              std::strerror(err)));
    }
    return fail(fmt::format("cannot open key file {}: {}; check the path", path, std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return fail(fmt::format("cannot stat key file {}: {}", path, std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(fmt::format("key file {} is not a regular file; point key_file at the file made by `cordon genkey`",
                            path));
  }
  if ((st.st_mode & 077) != 0) {
    return fail(fmt::format("key file {} has mode {:04o}, so group or others can access it; run `chmod 600 {}`",
                            path, st.st_mode & 07777, path));
  }
  if (auto owner = os::check_owner(path, st); !owner) return fail("key file: " + owner.error().what);
  if (st.st_size > static_cast<off_t>(kMaxKeyFileSize)) {
    return fail(fmt::format("key file {} is {} bytes, too long for a key (one line of 44 base64 characters); {}",
                            path, st.st_size, hint_generate(path)));
  }

  // One byte more than allowed, so that decode_key_file sees an overlong file.
  crypto::SecretBytes text(kMaxKeyFileSize + 1);
  size_t length = 0;
  while (length < text.size()) {
    const ssize_t n = ::read(fd.get(), text.mutable_view().data() + length, text.size() - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(fmt::format("cannot read key file {}: {}", path, std::strerror(errno)));
    if (n == 0) break;
    length += static_cast<size_t>(n);
  }
  return decode_key_file(text.view().first(length), path);
}

KeyFileResult decode_key_file(std::span<const std::byte> text, const std::string& path) {
  if (text.size() > kMaxKeyFileSize) {
    return fail(fmt::format("key file {} is too long for a key (one line of 44 base64 characters); {}", path,
                            hint_generate(path)));
  }

  auto view = text;
  while (!view.empty() && is_space(view.front())) view = view.subspan(1);
  while (!view.empty() && is_space(view.back())) view = view.first(view.size() - 1);
  if (view.empty()) return fail(fmt::format("key file {} is empty; {}", path, hint_generate(path)));

  // Decoded data is never longer than its base64 text.
  crypto::SecretBytes decoded(view.size());
  size_t decoded_length = 0;
  const char* end = nullptr;
  const int rc = sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.mutable_view().data()), decoded.size(),
                                   reinterpret_cast<const char*>(view.data()), view.size(), nullptr,
                                   &decoded_length, &end, sodium_base64_VARIANT_ORIGINAL);
  if (rc != 0 || end != reinterpret_cast<const char*>(view.data()) + view.size()) {
    return fail(fmt::format("key file {} is not standard base64 (one line of 44 characters); {}", path,
                            hint_generate(path)));
  }
  if (decoded_length != kLinkKeySize) {
    return fail(fmt::format("key file {} holds a {}-byte key, a link key is {} bytes ({} base64 characters); {}",
                            path, decoded_length, kLinkKeySize, sodium_base64_ENCODED_LEN(kLinkKeySize,
                                                                  sodium_base64_VARIANT_ORIGINAL) - 1,
                            hint_generate(path)));
  }
  return crypto::SecretBytes(decoded.view().first(kLinkKeySize));
}

std::optional<crypto::SecretBytes> generate_link_key() {
  crypto::SecretBytes key(kLinkKeySize);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.mutable_view().data()), static_cast<int>(key.size())) != 1) {
    return std::nullopt;
  }
  return key;
}

crypto::SecretBytes encode_key_file(const crypto::SecretBytes& key) {
  const size_t encoded = sodium_base64_ENCODED_LEN(key.size(), sodium_base64_VARIANT_ORIGINAL);  // with NUL
  crypto::SecretBytes out(encoded);
  sodium_bin2base64(reinterpret_cast<char*>(out.mutable_view().data()), encoded,
                    reinterpret_cast<const unsigned char*>(key.view().data()), key.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  // Replace the terminating NUL with the newline that ends the line.
  out.mutable_view()[encoded - 1] = std::byte{'\n'};
  return out;
}

}  // namespace cordon::daemon
