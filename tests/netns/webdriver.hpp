// A headless Chromium driven through chromedriver with the W3C WebDriver
// protocol (https://www.w3.org/TR/webdriver2/), spoken from C++ with
// cpp-httplib's client: Debian's chromium and chromium-driver, nothing else.
// chromedriver listens on loopback only; Chromium runs as root, hence
// --no-sandbox, with a private profile directory.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/netns/netns_harness.hpp"

namespace httplib {
class Client;
}

namespace cordon::netns {

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kChromedriver = "/usr/bin/chromedriver";

class Browser {
 public:
  // Starts chromedriver on a free loopback port and opens a session whose
  // browser accepts the console's self-signed certificate. Throws with the
  // chromedriver log when it cannot.
  Browser(const fs::path& work_dir, Deadline deadline);
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  void open(const std::string& url);
  // Runs `script` (a function body; `return` gives the value) in the page.
  nlohmann::json execute(const std::string& script);
  // The first element matching `css`; throws when there is none.
  std::string find(const std::string& css);
  void type(const std::string& css, const std::string& text);
  void click(const std::string& css);
  // Writes a PNG of the window.
  void screenshot(const fs::path& png);

 private:
  nlohmann::json call(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr);

  std::unique_ptr<Process> driver_;
  std::unique_ptr<httplib::Client> http_;
  std::string session_;
};

}  // namespace cordon::netns
