// The docs' walkthroughs (README.md's tunnel between two machines,
// docs/administration.md's network step by step), run as written:
// tests/netns/doc_walkthrough.py extracts the command blocks of a page (the
// `<!-- doc-test: ... -->` convention, docs/architecture.md "The docs'
// walkthroughs are tests"), runs them on hosts in network namespaces with
// private mounts, and compares the outputs the page shows in shape. Two
// scratch copies with a planted drift prove that it can fail.
#include <unistd.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using DocWalkthrough = NetnsTest;

const fs::path kSource = CORDON_SOURCE_DIR;

// Namespace names the runner may create: `<prefix>-<host>` and `<prefix>-sw`.
std::string unique_prefix() {
  std::random_device rd;
  return "cordon-doc-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
}

// The runner deletes its namespaces itself; this catches what a crashed
// runner leaves behind.
void delete_leftovers(const std::string& prefix) {
  RunResult list = run(nullptr, {"ip", "netns", "list"});
  std::istringstream lines(list.out);
  for (std::string line; std::getline(lines, line);) {
    std::string name = line.substr(0, line.find(' '));
    if (name.rfind(prefix + "-", 0) == 0) {
      ADD_FAILURE() << "the runner left namespace " << name << " behind";
      run(nullptr, {"ip", "netns", "del", name});
    }
  }
}

RunResult run_page(const fs::path& page) {
  std::string prefix = unique_prefix();
  RunResult r = run(nullptr,
                    {"python3", (kSource / "tests/netns/doc_walkthrough.py").string(), page.string(),
                     "--prefix", prefix, "--cordon", cordon_bin().string()},
                    150s);
  delete_leftovers(prefix);
  return r;
}

// A copy of `page` with the first occurrence of `from` replaced by `to`.
fs::path planted_copy(const TempDir& dir, const fs::path& page, const std::string& from,
                      const std::string& to) {
  std::string text = read_file(page);
  size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error(page.string() + " no longer contains: " + from);
  text.replace(at, from.size(), to);
  fs::path copy = dir / page.filename().string();
  write_file(copy, text);
  return copy;
}

TEST_F(DocWalkthrough, ReadmeRunsAsShown) {
  RunResult r = run_page(kSource / "README.md");
  EXPECT_TRUE(r.ok()) << r.describe();
}

TEST_F(DocWalkthrough, AdministrationRunsAsShown) {
  RunResult r = run_page(kSource / "docs/administration.md");
  EXPECT_TRUE(r.ok()) << r.describe();
}

// Runs a copy of README.md with `from` replaced by `to`; the run must fail
// with `message` in its report.
void expect_planted_failure(const std::string& from, const std::string& to,
                            const std::string& message) {
  TempDir dir("doc-planted");
  RunResult r = run_page(planted_copy(dir, kSource / "README.md", from, to));
  EXPECT_EQ(r.exit_code, 1) << r.describe();
  EXPECT_NE(r.err.find(message), std::string::npos) << r.describe();
}

TEST_F(DocWalkthrough, FailsWhenAShownOutputDrifts) {
  expect_planted_failure("drops not tied to a peer: -\n\nPEER", "drops not tied to any peer: -\n\nPEER",
                         "the output differs from what the page shows");
}

TEST_F(DocWalkthrough, FailsWhenACommandFails) {
  expect_planted_failure("cordon genkey --out /etc/cordon/a-b.key",
                         "cordon genkey --out /etc/cordon/missing/a-b.key", "failed (exit");
}

}  // namespace
}  // namespace cordon::netns
