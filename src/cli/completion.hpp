// `cordon completion bash`: a bash completion script made from the command
// tree CLI11 holds, so every subcommand and option the parser knows is
// offered at every level, and a new command needs no edit here. The Debian
// package installs its output as /usr/share/bash-completion/completions/cordon
// (docs/packaging.md).
#pragma once

#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace cordon::cli {

// The script for the command `cordon` whose tree is `app`: for each command
// path ("cordon admin host add"), its subcommands, its
// options (with those of the parents it falls through to), and which options
// take a value. Hidden commands and options (empty group) are left out.
std::string bash_completion_script(const CLI::App& app);

// Adds `completion SHELL` to `app` (the root of the tree the script
// describes); after parsing, dispatch_completion_command prints the script
// if that command was given (nullopt: it was not).
void add_completion_command(CLI::App& app);
std::optional<int> dispatch_completion_command();

}  // namespace cordon::cli
