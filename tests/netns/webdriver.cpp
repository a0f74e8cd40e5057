// W3C WebDriver client for the console's browser tests (webdriver.hpp).
#include "tests/netns/webdriver.hpp"

#include <httplib.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace cordon::netns {
namespace {

using json = nlohmann::json;

// The element reference key (WebDriver, section 12.1 "Elements").
constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";

uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("no free loopback port for chromedriver");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

Browser::Browser(const fs::path& work_dir, Deadline deadline) {
  if (!fs::exists(kChromium) || !fs::exists(kChromedriver)) {
    throw std::runtime_error(std::string("the browser tests need ") + kChromium + " and " + kChromedriver +
                             ": install chromium and chromium-driver (scripts/install-deps.sh)");
  }
  const uint16_t port = free_loopback_port();
  driver_ = std::make_unique<Process>(
      nullptr, std::vector<std::string>{kChromedriver, "--port=" + std::to_string(port), "--allowed-ips=127.0.0.1"},
      work_dir / "chromedriver.log", "chromedriver");
  http_ = std::make_unique<httplib::Client>("127.0.0.1", port);
  http_->set_read_timeout(60, 0);
  const bool ready = poll_until(deadline, [&] {
    auto r = http_->Get("/status");
    if (!r || r->status != 200) return false;
    json j = json::parse(r->body, nullptr, false);
    return !j.is_discarded() && j["value"].value("ready", false);
  });
  if (!ready) throw std::runtime_error("chromedriver did not start:\n" + driver_->log_text());
  const json caps = {
      {"capabilities",
       {{"alwaysMatch",
         {{"browserName", "chrome"},
          {"acceptInsecureCerts", true},
          {"goog:chromeOptions",
           {{"binary", kChromium},
            {"args",
             {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
              "--no-first-run", "--user-data-dir=" + (work_dir / "chromium-profile").string()}}}}}}}}};
  const json r = call("POST", "/session", caps);
  session_ = r.value("sessionId", "");
  if (session_.empty()) throw std::runtime_error("chromedriver opened no session: " + r.dump());
}

Browser::~Browser() {
  if (!session_.empty()) {
    try {
      call("DELETE", "/session/" + session_);
    } catch (...) {
      // The driver is stopped next anyway.
    }
  }
  driver_.reset();
}

json Browser::call(const std::string& method, const std::string& path, const json& body) {
  httplib::Result r = method == "GET"      ? http_->Get(path)
                      : method == "DELETE" ? http_->Delete(path)
                                           : http_->Post(path, body.is_null() ? "{}" : body.dump(), "application/json");
  if (!r) throw std::runtime_error("chromedriver: no answer to " + method + " " + path);
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || r->status != 200) {
    throw std::runtime_error("chromedriver: " + method + " " + path + " -> " + std::to_string(r->status) + " " +
                             r->body.substr(0, 600));
  }
  return j["value"];
}

void Browser::open(const std::string& url) { call("POST", "/session/" + session_ + "/url", {{"url", url}}); }

json Browser::execute(const std::string& script) {
  return call("POST", "/session/" + session_ + "/execute/sync", {{"script", script}, {"args", json::array()}});
}

std::string Browser::find(const std::string& css) {
  const json e = call("POST", "/session/" + session_ + "/element", {{"using", "css selector"}, {"value", css}});
  return e.at(kElementKey).get<std::string>();
}

void Browser::type(const std::string& css, const std::string& text) {
  const std::string id = find(css);
  call("POST", "/session/" + session_ + "/element/" + id + "/clear", json::object());
  call("POST", "/session/" + session_ + "/element/" + id + "/value", {{"text", text}});
}

void Browser::click(const std::string& css) {
  call("POST", "/session/" + session_ + "/element/" + find(css) + "/click", json::object());
}

void Browser::screenshot(const fs::path& png) {
  const std::string b64 = call("GET", "/session/" + session_ + "/screenshot").get<std::string>();
  std::string bytes(b64.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(bytes.data()), bytes.size(), b64.data(), b64.size(), nullptr,
                        &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    throw std::runtime_error("chromedriver: the screenshot is not base64");
  }
  fs::create_directories(png.parent_path());
  std::ofstream(png, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(len));
}

}  // namespace cordon::netns
