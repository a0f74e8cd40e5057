#include "daemon/counter_keeper.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon/fresh_keys.hpp"
#include "daemon/key_admission.hpp"

namespace cordon::daemon {

namespace {
constexpr const char* kNoFingerprints = "cannot compute the link keys' fingerprints (OpenSSL failed)";
}  // namespace

CounterKeeper::CounterKeeper(Where where)
    : where_(std::move(where)), store_(where_.path, where_.legacy_path, *where_.files) {
  file_.machine = where_.machine;
}

std::vector<keys::KeyFingerprint> CounterKeeper::fresh() const {
  return managed() ? load_fresh_keys(*where_.keyset, where_.machine) : std::vector<keys::KeyFingerprint>{};
}

Result<CounterKeeper::Start, std::string> CounterKeeper::open(const NodeConfig& config, bool accept_new_keys) {
  const CounterLoad loaded = store_.load();
  if (!loaded.file) return fail(loaded.error);
  if (loaded.missing) spdlog::info("no counter file at {} yet: a first start of this host ID", path());
  if (!loaded.missing && loaded.read_from != path()) {
    spdlog::info("counter file {} moves to {} (it is named after the host ID now)", loaded.read_from, path());
  }
  const auto configured = peer_keys(config);
  if (!configured) return fail(std::string(kNoFingerprints));
  FloorStart start = floor_start(loaded, where_.machine, *configured);
  for (const std::string& note : start.notes) spdlog::warn("{}", note);

  Admission admitted = admit_keys(*configured, start.covered, fresh(), {managed(), accept_new_keys, path()});
  if (admitted.error) return fail("cannot start: " + *admitted.error);
  for (const std::string& warning : admitted.warnings) spdlog::warn("{}", warning);
  if (!admitted.fresh_used.empty()) spdlog::info("{} fresh link key(s) start", admitted.fresh_used.size());

  file_ = CounterFile{kCounterFileVersion, where_.machine, start.floor, fingerprints(*configured), start.receive};
  return Start{start.floor, std::move(start.receive)};
}

Status<std::string> CounterKeeper::admit_reload(const NodeConfig& next) {
  const auto configured = peer_keys(next);
  if (!configured) return fail(std::string(kNoFingerprints));
  // --accept-new-keys vouches for the keys of the start it was given to only.
  Admission admitted = admit_keys(*configured, file_.keys, fresh(), {managed(), false, path()});
  if (admitted.error) return fail(*admitted.error);
  for (const std::string& warning : admitted.warnings) spdlog::warn("{}", warning);
  std::vector<keys::KeyFingerprint> listed = fingerprints(*configured);
  if (listed != file_.keys) {
    // Recorded before the node seals under them, like the floor itself.
    CounterFile before = file_;
    file_.keys = std::move(listed);
    if (auto stored = store(); !stored) {
      file_ = std::move(before);
      return stored;
    }
  }
  consume_fresh();
  return Ok{};
}

Status<std::string> CounterKeeper::store() {
  if (auto stored = store_.store(file_); !stored) return fail(fmt::format("{} ({})", stored.error(), path()));
  return Ok{};
}

void CounterKeeper::consume_fresh() {
  // Every running key, not only those that started as fresh: an update
  // marks all links of its key set, and a key already running must not
  // keep that pass.
  if (!managed()) return;
  if (auto error = consume_fresh_keys(*where_.keyset, file_.keys)) {
    // Harmless while this machine keeps its counter file, which lists the
    // keys now; say so, and how to tidy up.
    spdlog::warn("{}; remove {} by hand", *error, fresh_keys_path(*where_.keyset));
  }
}

}  // namespace cordon::daemon
