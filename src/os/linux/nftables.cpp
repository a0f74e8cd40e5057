#include "os/linux/nftables.hpp"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "os/linux/fd.hpp"

// libnftables.h defines _GNU_SOURCE, which the compiler has defined
// already; the redefinition is harmless.
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wmacro-redefined"
#include <nftables/libnftables.h>
#pragma clang diagnostic pop

namespace cordon::os {

namespace {

std::string table_name() { return std::string(kNftFamily) + " " + std::string(kNftTable); }

// libnftables ends the process when it cannot open its netlink socket.
// Trying first turns the usual causes (a kernel without nfnetlink, no file
// descriptors left) into an error the daemon can report.
Status probe_netfilter_socket() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (fd.valid()) return Ok{};
  return sys_error("open an nftables netlink socket (the kernel needs nf_tables and nfnetlink)");
}

// The first "Error: ..." line libnftables wrote, without its prefix; the
// lines after it quote the script, which the caller does not need.
std::string first_error(std::string_view text) {
  constexpr std::string_view kPrefix = "Error: ";
  const size_t at = text.find(kPrefix);
  if (at != std::string_view::npos) text.remove_prefix(at + kPrefix.size());
  text = text.substr(0, text.find('\n'));
  return text.empty() ? std::string("libnftables gave no reason") : std::string(text);
}

// What to do about a refusal, from the reason libnftables gave.
std::string advice(std::string_view reason) {
  if (reason.find("Operation not permitted") != std::string_view::npos) {
    return "; loading nftables rules needs root (CAP_NET_ADMIN)";
  }
  if (reason.find("not supported") != std::string_view::npos) {
    return "; the kernel lacks an nftables feature Cordon uses (nf_tables with inet NAT, conntrack and "
           "counters; Linux 5.2 or later)";
  }
  return {};
}

bool is_unsigned(const nlohmann::json& object, const char* key) {
  return object.contains(key) && object[key].is_number_unsigned();
}

// One element of the JSON list (libnftables-json(5), "COUNTER"); false
// when it is not a counter of Cordon's table.
bool read_counter(const nlohmann::json& element, NftCounters& out) {
  if (!element.is_object() || !element.contains("counter")) return false;
  const auto& c = element["counter"];
  if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) return false;
  if (!c.contains("table") || c["table"] != kNftTable || !c.contains("family") || c["family"] != kNftFamily) {
    return false;
  }
  if (!is_unsigned(c, "packets") || !is_unsigned(c, "bytes")) return false;
  out[c["name"].get<std::string>()] = NftCounter{c["packets"].get<uint64_t>(), c["bytes"].get<uint64_t>()};
  return true;
}

Result<NftCounters> parse_counters(const std::string& text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object() || !json.contains("nftables") || !json["nftables"].is_array()) {
    return sys_error("read the counters of table " + table_name() + ": libnftables printed no JSON list", 0);
  }
  NftCounters counters;
  for (const auto& element : json["nftables"]) read_counter(element, counters);
  return counters;
}

}  // namespace

void NftTables::CtxDeleter::operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }

Result<NftTables> NftTables::open() {
  if (auto st = probe_netfilter_socket(); !st) return st.error();
  nft_ctx* raw = nft_ctx_new(NFT_CTX_DEFAULT);
  if (raw == nullptr) return sys_error("create a libnftables context");
  NftTables tables(raw);
  // Output and errors go to buffers, not to the daemon's stdout/stderr.
  if (nft_ctx_buffer_output(raw) != 0 || nft_ctx_buffer_error(raw) != 0) {
    return sys_error("buffer libnftables output");
  }
  // Cordon's scripts include no file; no search path means none can be.
  nft_ctx_clear_include_paths(raw);
  return tables;
}

Result<std::string> NftTables::run(const std::string& script, std::string_view what) {
  nft_ctx* ctx = ctx_.get();
  // Reading a buffer empties it: start from clean ones.
  (void)nft_ctx_get_output_buffer(ctx);
  (void)nft_ctx_get_error_buffer(ctx);
  const int rc = nft_run_cmd_from_buffer(ctx, script.c_str());
  std::string output = nft_ctx_get_output_buffer(ctx);
  const std::string errors = nft_ctx_get_error_buffer(ctx);
  if (rc == 0) return output;
  const std::string reason = first_error(errors);
  return sys_error(std::string(what) + ": " + reason + advice(reason), 0);
}

Status NftTables::apply(const OpenPolicy& policy) {
  auto table = render_open_policy(policy);
  if (!table) return sys_error("nftables policy refused: " + table.error().message(), 0);
  // Adding the table first makes the delete succeed when there is none; the
  // three commands are one transaction, so the old table stays in place
  // until the new one has been accepted whole.
  const std::string script =
      "add table " + table_name() + "\ndelete table " + table_name() + "\n" + table.value();
  auto done = run(script, "load nftables table " + table_name());
  if (!done) return sys_error(done.error().message() + "; the table in place is unchanged", 0);
  return Ok{};
}

Status NftTables::remove() {
  const std::string script = "add table " + table_name() + "\ndelete table " + table_name() + "\n";
  auto done = run(script, "delete nftables table " + table_name());
  if (!done) return done.error();
  return Ok{};
}

Result<NftCounters> NftTables::counters() {
  nft_ctx* ctx = ctx_.get();
  const unsigned flags = nft_ctx_output_get_flags(ctx);
  nft_ctx_output_set_flags(ctx, flags | NFT_CTX_OUTPUT_JSON);
  auto listed = run("list counters table " + table_name(), "read the counters of table " + table_name());
  nft_ctx_output_set_flags(ctx, flags);
  if (!listed) {
    return sys_error(listed.error().message() + " (is Cordon's policy applied? the table exists only then)", 0);
  }
  return parse_counters(listed.value());
}

}  // namespace cordon::os
