// Cordon's nftables table (nft_ruleset.hpp says what is in it), loaded
// through libnftables (libnftables(3)); no shelling out to nft(8). Only
// table inet cordon is ever written or deleted.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "os/linux/nft_ruleset.hpp"
#include "os/linux/result.hpp"

struct nft_ctx;

namespace cordon::os {

struct NftCounter {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};
// By counter name ("spoofed_lan", "open_rule_1", ...).
using NftCounters = std::map<std::string, NftCounter, std::less<>>;

class NftTables {
 public:
  // The context talks to the network namespace the calling thread is in
  // at the time of this call: its netlink socket is opened here.
  static Result<NftTables> open();

  // Replaces table inet cordon with the policy's, in one transaction
  // (nft(8): a script loads as one batch, all or nothing): a table left by
  // a run that crashed goes, and when the check or the kernel refuses the
  // new ruleset, the table in place stays as it was.
  Status apply(const OpenPolicy& policy);
  // Deletes table inet cordon; fine when there is none.
  Status remove();
  // The table's named counters; an error when there is no table.
  Result<NftCounters> counters();

 private:
  struct CtxDeleter {
    void operator()(nft_ctx* ctx) const;
  };
  explicit NftTables(nft_ctx* ctx) : ctx_(ctx) {}

  // Runs a script; on failure the error is `what` with libnftables' own
  // message, and what to do about it.
  Result<std::string> run(const std::string& script, std::string_view what);

  std::unique_ptr<nft_ctx, CtxDeleter> ctx_;
};

}  // namespace cordon::os
