// The web console in a real browser (docs/console.md): a managed network of
// a coordinator `hub`, the administration host `adm` and two clients
// `alpha` and `beta` (one bridged underlay, every daemon running), the
// console (`cordon admin console`) on loopback beside it, and headless
// Chromium driven over WebDriver (webdriver.hpp).
//
//   MapLoginAddLinkAudit: the map shows every host, and a host's details
//     when it is clicked; a wrong password is
//     refused; after logging in, a link alpha-beta is added from the page,
//     and the audit log has the CLI's row and the row naming the console
//     user, also in the page's audit list.
//   HostTurnsUnreachable: with the coordinator's status reports reaching
//     the administration host (docs/couriers.md, "Status reports"), every
//     host turns reachable on the map; beta's daemon is stopped and beta
//     turns unreachable, without a reload. The hub's registry gives up on a
//     silent client after 8 s (poll_period) and the clients report every
//     5 s, as in courier_test, so that this takes seconds, not minutes.
//
// Screenshots go to BUILD/test-artifacts/console/ (their paths are printed).
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/netns/netns_harness.hpp"
#include "tests/netns/webdriver.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;
using ConsoleTest = NetnsTest;

constexpr uint16_t kPort = 51820;
constexpr const char* kConsoleUser = "root-admin";
constexpr const char* kConsolePassword = "console pass 1";

struct Host {
  std::string name;
  size_t lan_index = 0;
  std::unique_ptr<Namespace> ns;
  std::string id;
  fs::path state, password, config, socket, log;
  std::string extra_config;  // more [host] keys
  std::unique_ptr<Process> daemon;
};

// BUILD/test-artifacts/console, from $CORDON_BIN = BUILD/src/cli/cordon.
fs::path artifacts() {
  const fs::path dir = cordon_bin().parent_path().parent_path().parent_path() / "test-artifacts" / "console";
  fs::create_directories(dir);
  return dir;
}

class ConsoleNetwork {
 public:
  ConsoleNetwork() : dir_("netns-console") {
    db_ = dir_ / "admin.db";
    std::vector<const Namespace*> members;
    size_t i = 0;
    for (const char* name : {"hub", "adm", "alpha", "beta"}) {
      auto h = std::make_unique<Host>();
      h->name = name;
      h->lan_index = i++;
      h->ns = std::make_unique<Namespace>(std::string("console-") + name);
      h->state = dir_ / ("state-" + h->name);
      h->password = dir_ / ("password-" + h->name);
      h->config = dir_ / (h->name + ".toml");
      h->socket = dir_ / (h->name + ".sock");
      h->log = dir_ / ("daemon-" + h->name + ".log");
      members.push_back(h->ns.get());
      hosts_.push_back(std::move(h));
    }
    lan_ = std::make_unique<Lan>("console", members);
  }
  ~ConsoleNetwork() {
    console_.reset();
    for (auto& h : hosts_) h->daemon.reset();
  }

  Host& host(std::string_view name) {
    for (auto& h : hosts_) {
      if (h->name == name) return *h;
    }
    throw std::runtime_error("no host " + std::string(name));
  }
  const std::vector<std::unique_ptr<Host>>& hosts() const { return hosts_; }
  const fs::path& dir() const { return dir_.path(); }

  RunResult admin(std::vector<std::string> args) const {
    args.insert(args.begin(), {cordon_bin().string(), "admin", "--db", db_.string()});
    return run(nullptr, args, 120s);
  }
  json admin_json(std::vector<std::string> args) const {
    args.push_back("--json");
    RunResult r = admin(args);
    if (!r.ok()) throw std::runtime_error("cordon admin failed: " + r.describe());
    return json::parse(r.out);
  }

  void bring_up() {
    admin_json({"network", "init", "--number", "1", "--name", "console", "--ipv4", "10.78.0.0/16"});
    for (auto& h : hosts_) {
      std::vector<std::string> args = {"host", "add", "--name", h->name, "--endpoint",
                                       endpoint_text(Lan::v4(h->lan_index), kPort)};
      if (h->name == "hub") {
        args.insert(args.end(), {"--role", "coordinator"});
      } else {
        args.insert(args.end(), {"--role", "client", "--coordinator", "hub"});
      }
      if (h->name == "adm") args.push_back("--admin-host");
      h->id = admin_json(args).at("id").get<std::string>();
      json user = admin_json({"user", "add", "--host", h->name, "--name", "ops-" + h->name});
      write_file(h->password, user.at("generated_password").get<std::string>() + "\n", 0600);
    }
    for (auto& h : hosts_) {
      const fs::path out = dir_ / (h->name + ".keyset");
      admin_json({"keyset", "export", "--host", h->name, "--out", out.string()});
      install_managed_host(*h->ns, files(*h, out), kPort, h->extra_config);
      start(*h);
    }
    const fs::path pw = dir_ / "console-password";
    write_file(pw, std::string(kConsolePassword) + "\n", 0600);
    RunResult added = admin({"console-user", "add", kConsoleUser, "--password-file", pw.string()});
    if (!added.ok()) throw std::runtime_error(added.describe());
  }

  static ManagedHostFiles files(const Host& h, const fs::path& keyset = {}) {
    return ManagedHostFiles{keyset, h.password, h.state, h.config, h.socket};
  }

  void start(Host& h) { h.daemon = start_managed_daemon(*h.ns, files(h), h.log, h.name); }

  // Starts the console on a free loopback port; returns its URL.
  std::string start_console() {
    console_ = std::make_unique<Process>(
        nullptr,
        std::vector<std::string>{cordon_bin().string(), "admin", "--db", db_.string(), "console", "--listen",
                                 "127.0.0.1:0", "-s", host("adm").socket.string()},
        dir_ / "console.log", "console");
    std::string url;
    const bool up = poll_until(deadline_in(30s), [&] {
      const std::string log = console_->log_text();
      const size_t at = log.find("console: https://");
      if (at == std::string::npos) return !console_->running();
      url = log.substr(at + 9, log.find('\n', at) - at - 9);
      return true;
    });
    if (!up || url.empty()) throw std::runtime_error("the console did not start:\n" + console_->log_text());
    return url;
  }

 private:
  TempDir dir_;
  fs::path db_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::unique_ptr<Lan> lan_;
  std::unique_ptr<Process> console_;
};

// The map's nodes as the page drew them: name -> state.
json map_nodes(Browser& b) {
  return b.execute(
      "var out = {}; document.querySelectorAll('#map g.node').forEach(function (n) {"
      "  out[n.getAttribute('data-name')] = n.getAttribute('data-state'); }); return out;");
}

std::string text_of(Browser& b, const std::string& css) {
  return b.execute("var e = document.querySelector('" + css + "'); return e && !e.hidden ? e.textContent : '';")
      .get<std::string>();
}

bool wait_for_states(Browser& b, const std::map<std::string, std::string>& want, json* seen) {
  return poll_until(deadline_in(120s), [&] {
    *seen = map_nodes(b);
    for (const auto& [name, state] : want) {
      if (!seen->contains(name) || (*seen)[name] != state) return false;
    }
    return true;
  }, 500ms);
}

// A picture of the page once the map's force layout has come to rest.
fs::path shot(Browser& b, const std::string& name) {
  poll_until(deadline_in(30s), [&] {
    return b.execute("return document.body.getAttribute('data-layout');") == "settled";
  }, 200ms);
  const fs::path png = artifacts() / name;
  b.screenshot(png);
  std::printf("console screenshot: %s\n", png.c_str());
  return png;
}

TEST_F(ConsoleTest, MapLoginAddLinkAudit) {
  ConsoleNetwork net;
  net.bring_up();
  const std::string url = net.start_console();
  Browser browser(net.dir(), deadline_in(60s));
  browser.open(url);

  json nodes;
  ASSERT_TRUE(poll_until(deadline_in(60s), [&] {
    nodes = map_nodes(browser);
    return nodes.size() == 4;
  }, 500ms)) << "map nodes: " << nodes.dump();
  for (const char* name : {"hub", "adm", "alpha", "beta"}) EXPECT_TRUE(nodes.contains(name)) << name;
  const json edges = browser.execute("return document.querySelectorAll('#map line.edge').length;");
  EXPECT_EQ(edges.get<int>(), 3) << "alpha, beta and adm with their coordinator hub";
  shot(browser, "map.png");

  // A host's details: click it on the map.
  browser.click("#map g.node[data-name=alpha] .shape");
  ASSERT_TRUE(poll_until(deadline_in(30s), [&] {
    const std::string details = text_of(browser, "#details");
    return details.find("alpha") != std::string::npos && details.find("Recent audit events") != std::string::npos;
  })) << text_of(browser, "#details");
  EXPECT_NE(text_of(browser, "#details").find("hub"), std::string::npos) << "its link with hub";
  shot(browser, "host-details.png");

  // A wrong password is refused and audited.
  browser.type("#login-user", kConsoleUser);
  browser.type("#login-password", "not the password");
  browser.click("#login-button");
  ASSERT_TRUE(poll_until(deadline_in(30s), [&] {
    return text_of(browser, "#message").find("wrong user name or password") != std::string::npos;
  })) << text_of(browser, "#message");

  browser.type("#login-password", kConsolePassword);
  browser.click("#login-button");
  ASSERT_TRUE(poll_until(deadline_in(30s), [&] { return text_of(browser, "#session-user") == kConsoleUser; }))
      << text_of(browser, "#message");

  browser.click("#change-tab");
  browser.type("#link-a", "alpha");
  browser.type("#link-b", "beta");
  browser.click("#link-add");
  ASSERT_TRUE(poll_until(deadline_in(30s), [&] {
    return text_of(browser, "#message").find("link added") != std::string::npos;
  })) << text_of(browser, "#message");

  const json audit = net.admin_json({"audit", "--limit", "0"});
  bool cli_row = false, console_row = false, refused_login = false;
  for (const json& row : audit) {
    const std::string op = row.value("operation", ""), args = row.value("arguments", ""),
                      result = row.value("result", "");
    cli_row |= op == "link add" && args == "a=alpha b=beta" && result == "ok";
    console_row |= op == "console link add" && args == std::string("user=") + kConsoleUser + " a=alpha b=beta" &&
                   result == "ok";
    refused_login |= op == "console login" && result.rfind("refused", 0) == 0;
  }
  EXPECT_TRUE(cli_row) << audit.dump(1);
  EXPECT_TRUE(console_row) << audit.dump(1);
  EXPECT_TRUE(refused_login) << audit.dump(1);

  // The page's audit list, searched, shows the console's row too.
  browser.execute("document.querySelector('#tabs button[data-tab=audit]').click(); return 0;");
  browser.type("#search", "console link add");
  ASSERT_TRUE(poll_until(deadline_in(30s), [&] {
    return browser.execute("return document.querySelectorAll('#list tbody tr').length;").get<int>() == 1;
  })) << browser.execute("return document.querySelector('#list tbody').textContent;").dump();
  shot(browser, "audit.png");

  // The map now has the new edge.
  browser.execute("document.querySelector('#tabs button[data-tab=map]').click(); return 0;");
  ASSERT_TRUE(poll_until(deadline_in(30s), [&] {
    return browser.execute("return document.querySelectorAll('#map line.edge').length;").get<int>() == 4;
  }));
}

TEST_F(ConsoleTest, HostTurnsUnreachable) {
  ConsoleNetwork net;
  net.host("hub").extra_config = "poll_period = 8\n";
  for (const char* c : {"adm", "alpha", "beta"}) net.host(c).extra_config = "keepalive = 2\nstatus_interval = 5\n";
  net.bring_up();
  const std::string url = net.start_console();
  Browser browser(net.dir(), deadline_in(60s));
  browser.open(url);

  json seen;
  ASSERT_TRUE(wait_for_states(browser, {{"hub", "reachable"}, {"adm", "reachable"}, {"alpha", "reachable"},
                                        {"beta", "reachable"}},
                              &seen))
      << "map: " << seen.dump() << "\nbanner: " << text_of(browser, "#banner");
  shot(browser, "map-live.png");

  net.host("beta").daemon.reset();  // stopped: SIGTERM
  ASSERT_TRUE(wait_for_states(browser, {{"beta", "unreachable"}, {"alpha", "reachable"}}, &seen))
      << "map: " << seen.dump() << "\nbanner: " << text_of(browser, "#banner");
  shot(browser, "map-unreachable.png");
}

}  // namespace
}  // namespace cordon::netns
